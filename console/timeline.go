package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/storage"
)

// The signing-key timeline: one row per key, its windows as bars on a
// common time axis (published but not signing, signing, retired, discarded;
// what the schedule will do is drawn as projected), with "now" and the
// next rotation marked. Geometry is computed here; keys.html draws it as
// inline SVG styled by the console's stylesheet (no inline style, for the
// CSP).

// Timeline geometry, in SVG user units (the picture scales to its box).
const (
	tlWidth  = 960.0
	tlLabelW = 170.0 // left column: kid and state
	tlRightW = 20.0
	tlTop    = 36.0 // room for the marker labels
	tlRowH   = 34.0
	tlBarH   = 16.0
	tlAxisH  = 34.0
)

type timeline struct {
	Width, Height float64
	AxisY         float64
	PlotX, PlotW  float64
	Rows          []tlRow
	Ticks         []tlTick
	Now           tlMarker
	Next          *tlMarker
	// Desc says in words what the picture shows (its SVG <desc>).
	Desc string
}

type tlRow struct {
	KID, Short, State string
	Y, TextY          float64
	Bars              []tlBar
}

type tlBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type tlTick struct {
	X     float64
	Label string
}

type tlMarker struct {
	X, LabelY float64
	Label     string
	// Anchor is the label's text-anchor: start, or end near the right
	// edge.
	Anchor string
}

// window is one bar before it is placed: [from, to); a zero to is open
// (runs to the right edge).
type window struct {
	from, to time.Time
	class    string
	what     string
}

// schedule is what the key listing says about rotations to come.
type schedule struct {
	period, retention time.Duration
	// next is when the next rotation happens (zero: none scheduled) and
	// nextWhat says what happens then.
	next     time.Time
	nextWhat string
}

// scheduleOf reads the rotation schedule from the listing: a pending next
// key signs at its activate_at; without one, the active key is replaced
// rotation_period after it started signing (the scheduler publishes the
// successor publish_ahead before that).
func scheduleOf(l signingkeys.Listing) schedule {
	var s schedule
	s.period, _ = time.ParseDuration(l.RotationPeriod)
	s.retention, _ = time.ParseDuration(l.Retention)
	var active *signingkeys.KeyView
	for i, k := range l.Items {
		switch k.State {
		case storage.KeyNext:
			if k.ActivateAt != nil {
				s.next, s.nextWhat = *k.ActivateAt, "key "+k.KID+" starts signing"
				return s
			}
		case storage.KeyActive:
			active = &l.Items[i]
		}
	}
	if active != nil && active.ActivatedAt != nil && s.period > 0 {
		s.next, s.nextWhat = active.ActivatedAt.Add(s.period), "a new key replaces "+active.KID
	}
	return s
}

// keyWindows are the bars of key k: what happened, then (dashed) what the
// schedule plans. A discarded key's past windows end at its discard.
func keyWindows(k signingkeys.KeyView, now time.Time, s schedule) []window {
	pub, act, ret := derefTime(k.PublishedAt), derefTime(k.ActivatedAt), derefTime(k.RetiredAt)
	rem, disc, actAt := derefTime(k.RemoveAt), derefTime(k.DiscardedAt), derefTime(k.ActivateAt)
	if pub.IsZero() {
		pub = k.CreatedAt
	}
	var w []window
	add := func(from, to time.Time, class, what string) {
		if from.IsZero() || (!to.IsZero() && !to.After(from)) {
			return
		}
		w = append(w, window{from: from, to: to, class: class, what: what})
	}
	state := k.State
	if state == storage.KeyInactive {
		state = k.PriorState
	}
	switch state {
	case storage.KeyNext:
		if !actAt.IsZero() && k.State != storage.KeyInactive {
			add(pub, actAt, "published", "published, not signing yet")
			end := time.Time{}
			if s.period > 0 {
				end = actAt.Add(s.period)
			}
			add(actAt, end, "signing projected", "will sign")
		} else {
			add(pub, disc, "published", "published, not signing")
		}
	case storage.KeyActive:
		add(pub, act, "published", "published, not signing yet")
		add(act, now, "signing", "signing")
		if !s.next.IsZero() && s.next.After(now) {
			add(now, s.next, "signing projected", "signs until the next rotation")
			if s.retention > 0 {
				add(s.next, s.next.Add(s.retention), "retired projected", "will stay published after retiring")
			}
		} else if s.next.IsZero() {
			add(now, time.Time{}, "signing projected", "signs until rotated by hand")
		}
	default: // retired, or discarded after signing
		add(pub, act, "published", "published, not signing yet")
		add(act, ret, "signing", "signed")
		retEnd := rem
		if k.State == storage.KeyInactive {
			retEnd = disc
		}
		add(ret, retEnd, "retired", "retired: published, not signing")
	}
	if k.State == storage.KeyInactive {
		for i := range w {
			if w[i].to.IsZero() || w[i].to.After(disc) {
				w[i].to = disc
			}
		}
		// A discarded retired key can come back until its retention would
		// have ended; a discarded next key, until it is deleted.
		end := rem
		if !end.IsZero() && !end.After(disc) {
			end = disc.Add(time.Millisecond) // drawn at its minimum width
		}
		add(disc, end, "discarded", "discarded: out of the JWKS, its tokens refused")
	}
	kept := w[:0]
	for _, x := range w {
		if x.to.IsZero() || x.to.After(x.from) {
			kept = append(kept, x)
		}
	}
	return kept
}

// buildTimeline lays the keys of l out on one time axis around now.
func buildTimeline(l signingkeys.Listing, now time.Time) timeline {
	s := scheduleOf(l)
	windows := make([][]window, len(l.Items))
	lo, hi := now, now
	if !s.next.IsZero() && s.next.After(hi) {
		hi = s.next
	}
	for i, k := range l.Items {
		windows[i] = keyWindows(k, now, s)
		for _, w := range windows[i] {
			if w.from.Before(lo) {
				lo = w.from
			}
			if w.to.After(hi) {
				hi = w.to
			}
		}
	}
	if hi.Sub(lo) < 2*time.Hour {
		hi = lo.Add(2 * time.Hour)
	}
	pad := hi.Sub(lo) / 25
	lo, hi = lo.Add(-pad), hi.Add(pad)

	t := timeline{Width: tlWidth, PlotX: tlLabelW, PlotW: tlWidth - tlLabelW - tlRightW}
	x := func(at time.Time) float64 {
		if at.IsZero() || at.After(hi) {
			at = hi
		}
		if at.Before(lo) {
			at = lo
		}
		return t.PlotX + float64(at.Sub(lo))/float64(hi.Sub(lo))*t.PlotW
	}
	for i, k := range l.Items {
		y := tlTop + float64(i)*tlRowH
		row := tlRow{KID: k.KID, Short: shortKID(k.KID), State: k.State, Y: y, TextY: y + tlRowH/2 + 4}
		for _, w := range windows[i] {
			x0, x1 := x(w.from), x(w.to)
			row.Bars = append(row.Bars, tlBar{
				X: x0, Y: y + (tlRowH-tlBarH)/2, W: max(x1-x0, 2), H: tlBarH, Class: w.class,
				Title: fmt.Sprintf("%s: %s, %s → %s", shortKID(k.KID), w.what, formatTime(w.from), endLabel(w.to)),
			})
		}
		t.Rows = append(t.Rows, row)
	}
	t.AxisY = tlTop + float64(len(l.Items))*tlRowH + 4
	t.Height = t.AxisY + tlAxisH
	span := hi.Sub(lo)
	layout := "15:04"
	switch {
	case span > 4*24*time.Hour:
		layout = "Jan 2"
	case span > 24*time.Hour:
		layout = "Jan 2 15:04"
	}
	const ticks = 6
	for i := 0; i <= ticks; i++ {
		at := lo.Add(span * time.Duration(i) / ticks)
		t.Ticks = append(t.Ticks, tlTick{X: x(at), Label: at.UTC().Format(layout)})
	}
	anchor := func(px float64) string {
		if px > tlWidth-140 {
			return "end"
		}
		return "start"
	}
	t.Now = tlMarker{X: x(now), LabelY: 14, Label: "now " + now.UTC().Format("Jan 2 15:04") + " UTC"}
	t.Now.Anchor = anchor(t.Now.X)
	if !s.next.IsZero() {
		t.Next = &tlMarker{X: x(s.next), LabelY: 30, Label: "next rotation " + s.next.UTC().Format("Jan 2 15:04") + " UTC"}
		t.Next.Anchor = anchor(t.Next.X)
	}
	t.Desc = describeKeys(l, s, now)
	return t
}

func endLabel(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return formatTime(t)
}

// shortKID abbreviates a kid (a 43-character JWK thumbprint) for labels.
func shortKID(kid string) string {
	if len(kid) <= 12 {
		return kid
	}
	return kid[:10] + "…"
}

// describeKeys says in a sentence or two what the timeline shows, for
// screen readers (and anyone without the picture).
func describeKeys(l signingkeys.Listing, s schedule, now time.Time) string {
	var parts []string
	for _, k := range l.Items {
		switch k.State {
		case storage.KeyActive:
			parts = append(parts, fmt.Sprintf("Key %s signs now (since %s).", k.KID, formatTime(derefTime(k.ActivatedAt))))
		case storage.KeyNext:
			parts = append(parts, fmt.Sprintf("Key %s is published and starts signing %s.", k.KID, formatTime(derefTime(k.ActivateAt))))
		case storage.KeyRetired:
			parts = append(parts, fmt.Sprintf("Key %s is retired and leaves the JWKS %s.", k.KID, formatTime(derefTime(k.RemoveAt))))
		case storage.KeyInactive:
			parts = append(parts, fmt.Sprintf("Key %s was discarded %s.", k.KID, formatTime(derefTime(k.DiscardedAt))))
		}
	}
	if !s.next.IsZero() {
		parts = append(parts, fmt.Sprintf("Next rotation %s (%s): %s.", formatTime(s.next), relative(now, s.next), s.nextWhat))
	} else {
		parts = append(parts, "No rotation is scheduled (rotation_period is 0).")
	}
	return strings.Join(parts, " ")
}
