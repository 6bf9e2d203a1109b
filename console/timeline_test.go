package console

import (
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/signingkeys"
)

func at(t time.Time) *time.Time { return &t }

func TestTimeline(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	listing := func(keys ...signingkeys.KeyView) signingkeys.Listing {
		return signingkeys.Listing{Items: keys, RotationPeriod: "720h0m0s", PublishAhead: "24h0m0s", Retention: "48h0m0s"}
	}
	active := signingkeys.KeyView{KID: "active-key", State: "active", PublishedAt: at(now.Add(-10 * day)), ActivatedAt: at(now.Add(-9 * day))}
	next := signingkeys.KeyView{KID: "next-key", State: "next", PublishedAt: at(now.Add(-time.Hour)), ActivateAt: at(now.Add(23 * time.Hour))}
	retired := signingkeys.KeyView{KID: "retired-key", State: "retired", PublishedAt: at(now.Add(-40 * day)), ActivatedAt: at(now.Add(-39 * day)),
		RetiredAt: at(now.Add(-9 * day)), RemoveAt: at(now.Add(-7 * day))}
	discarded := signingkeys.KeyView{KID: "discarded-key", State: "inactive", PriorState: "retired", PublishedAt: at(now.Add(-40 * day)),
		ActivatedAt: at(now.Add(-39 * day)), RetiredAt: at(now.Add(-9 * day)), DiscardedAt: at(now.Add(-8 * day))}

	cases := []struct {
		name     string
		l        signingkeys.Listing
		nextRot  time.Time
		wantBars map[string][]string // kid -> bar classes in order
	}{
		{"active only: rotation due a period after it started signing", listing(active), now.Add(21 * day), map[string][]string{
			"active-key": {"published", "signing", "signing projected", "retired projected"},
		}},
		{"a pending next key: the rotation is when it signs", listing(active, next), now.Add(23 * time.Hour), map[string][]string{
			"active-key": {"published", "signing", "signing projected", "retired projected"},
			"next-key":   {"published", "signing projected"},
		}},
		{"retired and discarded keys", listing(active, retired, discarded), now.Add(21 * day), map[string][]string{
			"retired-key":   {"published", "signing", "retired"},
			"discarded-key": {"published", "signing", "retired", "discarded"},
		}},
		{"rotation off", signingkeys.Listing{Items: []signingkeys.KeyView{active}, RotationPeriod: "0s", Retention: "48h0m0s"}, time.Time{}, map[string][]string{
			"active-key": {"published", "signing", "signing projected"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduleOf(tc.l)
			if !s.next.Equal(tc.nextRot) {
				t.Fatalf("next rotation %v, want %v", s.next, tc.nextRot)
			}
			tl := buildTimeline(tc.l, now)
			if len(tl.Rows) != len(tc.l.Items) {
				t.Fatalf("%d rows for %d keys", len(tl.Rows), len(tc.l.Items))
			}
			for _, row := range tl.Rows {
				want, ok := tc.wantBars[row.KID]
				if !ok {
					continue
				}
				var got []string
				for _, b := range row.Bars {
					got = append(got, b.Class)
					if b.X < tl.PlotX-0.01 || b.X+b.W > tl.PlotX+tl.PlotW+2.01 {
						t.Errorf("%s: bar %s at [%.1f, %.1f] leaves the plot [%.1f, %.1f]", row.KID, b.Class, b.X, b.X+b.W, tl.PlotX, tl.PlotX+tl.PlotW)
					}
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s: bars %v, want %v", row.KID, got, want)
				}
				for i := 1; i < len(row.Bars); i++ {
					if row.Bars[i].X+0.01 < row.Bars[i-1].X {
						t.Errorf("%s: bars out of time order", row.KID)
					}
				}
			}
			if tl.Now.X <= tl.PlotX || tl.Now.X >= tl.PlotX+tl.PlotW {
				t.Errorf("now at x=%.1f, outside the plot", tl.Now.X)
			}
			if tc.nextRot.IsZero() != (tl.Next == nil) {
				t.Fatalf("next-rotation marker %v, want one: %v", tl.Next, !tc.nextRot.IsZero())
			}
			if tl.Next != nil && tl.Next.X <= tl.Now.X {
				t.Errorf("the next rotation (x=%.1f) is not after now (x=%.1f)", tl.Next.X, tl.Now.X)
			}
			if !strings.Contains(tl.Desc, "signs now") {
				t.Errorf("description %q does not say which key signs", tl.Desc)
			}
		})
	}
}

func TestSecretRows(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	active := func(id string) apps.SecretView { return apps.SecretView{ID: id, Status: "active"} }
	rotating := func(id string) apps.SecretView {
		return apps.SecretView{ID: id, Status: "active", ExpiresAt: at(now.Add(time.Hour))}
	}
	inactive := func(id string, exp *time.Time) apps.SecretView {
		return apps.SecretView{ID: id, Status: "inactive", ExpiresAt: exp}
	}
	cases := []struct {
		name     string
		secrets  []apps.SecretView
		noCreate bool
		// refused lists, per secret id, the refused action ("discard",
		// "reactivate") or "" when its action is allowed.
		refused map[string]string
	}{
		{"one active: it cannot be discarded", []apps.SecretView{active("a")}, false, map[string]string{"a": "discard"}},
		{"two active: either may go, no third", []apps.SecretView{active("a"), active("b")}, true, map[string]string{"a": "", "b": ""}},
		{"rotating out: the rotated one may go, not the new one", []apps.SecretView{rotating("a"), active("b")}, true, map[string]string{"a": "", "b": "discard"}},
		{"one inactive: no second discard", []apps.SecretView{active("a"), active("b"), inactive("c", nil)}, true, map[string]string{"a": "discard", "b": "discard", "c": "reactivate"}},
		{"inactive with room to come back", []apps.SecretView{active("a"), inactive("c", nil)}, false, map[string]string{"a": "discard", "c": ""}},
		{"inactive past its grace period", []apps.SecretView{active("a"), inactive("c", at(now.Add(-time.Minute)))}, false, map[string]string{"c": "reactivate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, noCreate := secretRows(tc.secrets, now)
			if (noCreate != "") != tc.noCreate {
				t.Fatalf("noCreate %q, want refused=%v", noCreate, tc.noCreate)
			}
			for _, r := range rows {
				want, ok := tc.refused[r.ID]
				if !ok {
					continue
				}
				got := ""
				switch {
				case r.NoDiscard != "":
					got = "discard"
				case r.NoReactivate != "":
					got = "reactivate"
				}
				if got != want {
					t.Errorf("secret %s: refused %q (%q%q), want %q", r.ID, got, r.NoDiscard, r.NoReactivate, want)
				}
			}
		})
	}
}

func TestHumanTimes(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ in, want string }{
		{"720h0m0s", "30 days"}, {"24h0m0s", "24 hours"}, {"48h0m0s", "2 days"}, {"1h0m0s", "1 hour"},
		{"1h30m0s", "1h30m0s"}, {"0s", "off"}, {"junk", "junk"},
	} {
		if got := humanDuration(tc.in); got != tc.want {
			t.Errorf("humanDuration(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "just now"}, {-5 * time.Minute, "5 min ago"}, {90 * time.Minute, "in 2 hours"},
		{-47 * time.Hour, "47 hours ago"}, {3 * 24 * time.Hour, "in 3 days"}, {time.Hour, "in 1 hour"},
	} {
		if got := relative(now, now.Add(tc.d)); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
