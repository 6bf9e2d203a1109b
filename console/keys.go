package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/storage"
)

// keysData is the data of keys.html.
type keysData struct {
	Listing  signingkeys.Listing
	Timeline timeline
	// NextRotation is when the next rotation happens (zero: none) and
	// NextWhat what happens then.
	NextRotation time.Time
	NextWhat     string
	Rows         []keyRow
}

// keyRow is a signing key with the actions its state allows; NoDiscard
// and NoReactivate say why not ("": allowed). They are hints for the
// buttons: the domain decides (authserver/signingkeys/keyset.go).
type keyRow struct {
	signingkeys.KeyView
	NoDiscard, NoReactivate string
}

func keyRows(keys []signingkeys.KeyView) []keyRow {
	inactive, next := false, false
	for _, k := range keys {
		inactive = inactive || k.State == storage.KeyInactive
		next = next || k.State == storage.KeyNext
	}
	rows := make([]keyRow, 0, len(keys))
	for _, k := range keys {
		r := keyRow{KeyView: k}
		switch {
		case k.State == storage.KeyInactive && k.PriorState == storage.KeyNext && next:
			r.NoReactivate = "another key is next now"
		case k.State != storage.KeyInactive && k.State != storage.KeyActive && inactive:
			r.NoDiscard = "another key is inactive: delete or reactivate it first"
		}
		rows = append(rows, r)
	}
	return rows
}

// keysPage shows the signing keys: the timeline, the schedule and a row
// per key with the actions its state allows (docs/architecture.md,
// "Signing-key rotation").
func (c *Console) keysPage(q *request) {
	l, err := c.o.Keys.ListKeys(q.r.Context())
	if err != nil {
		c.failPage(q, err)
		return
	}
	now := c.o.Now()
	s := scheduleOf(l)
	d := keysData{Listing: l, Timeline: buildTimeline(l, now), NextRotation: s.next, NextWhat: s.nextWhat, Rows: keyRows(l.Items)}
	c.show(q, http.StatusOK, "keys", "Signing keys", "keys", d)
}

const keysURL = "/console/keys"

func keyURL(kid string) string { return keysURL + "/" + url.PathEscape(kid) }

// rotateKey starts a rotation. Scheduled (the default), the new key is
// published first and signs after publish_ahead; immediate (after a
// compromise) it signs at once, which the form makes the operator
// acknowledge.
func (c *Console) rotateKey(q *request) {
	immediate := q.r.PostFormValue("immediate") == "1"
	if immediate && q.r.PostFormValue("acknowledge") != "yes" {
		c.sessions.setFlash(q.sid, flash{Kind: "error", Text: "An immediate rotation needs the acknowledgement box ticked; nothing was changed."})
		http.Redirect(q.w, q.r, keysURL, http.StatusSeeOther)
		return
	}
	res, err := c.o.Keys.Rotate(q.r.Context(), q.actor, immediate)
	msg := "Rotation started: key " + res.NextKID + " is published and signs " + formatTime(derefTime(res.ActivateAt)) + "."
	switch {
	case immediate:
		msg = "Key " + res.ActiveKID + " signs now; the previous key is retired (still published). Discard it to refuse its tokens."
	case res.NextKID == "":
		msg = "Key " + res.ActiveKID + " signs now: the pending key had been published long enough and was promoted."
	}
	c.done(q, keysURL, err, msg)
}

func (c *Console) discardKey(q *request) {
	kid := q.r.PathValue("kid")
	_, err := c.o.Keys.Discard(q.r.Context(), q.actor, kid)
	c.done(q, keysURL, err, "Key "+kid+" discarded: it left the JWKS and its tokens are refused. Reactivate it, or delete it for good.")
}

func (c *Console) reactivateKey(q *request) {
	kid := q.r.PathValue("kid")
	v, err := c.o.Keys.Reactivate(q.r.Context(), q.actor, kid)
	c.done(q, keysURL, err, "Key "+kid+" reactivated: it is "+v.State+" again.")
}

// keyDeletion is the confirmation of deleting key kid: the operator
// repeats the kid, as the admin API's ?confirm= does.
func keyDeletion(kid string) confirmDelete {
	return confirmDelete{
		Heading: "Delete signing key " + shortKID(kid),
		Subject: kid,
		Consequence: "Its private key is destroyed and no token it signed " +
			"will ever verify again. Only a discarded (inactive) key can be deleted.",
		Expected: kid, Label: "Type the key's kid to confirm",
		Action: keyURL(kid) + "/delete", Back: keysURL, BackLabel: "Signing keys",
	}
}

func (c *Console) deleteKeyPage(q *request) {
	kid := q.r.PathValue("kid")
	l, err := c.o.Keys.ListKeys(q.r.Context())
	if err != nil {
		c.failPage(q, err)
		return
	}
	for _, k := range l.Items {
		if k.KID == kid {
			c.show(q, http.StatusOK, "confirm_delete", "Delete signing key", "keys", keyDeletion(kid))
			return
		}
	}
	c.show(q, http.StatusNotFound, "error", "Not found", "keys", errorPage{http.StatusNotFound, "Not found", "No signing key has kid " + kid + "."})
}

func (c *Console) deleteKey(q *request) {
	kid := q.r.PathValue("kid")
	if q.r.PostFormValue("confirm") != kid {
		d := keyDeletion(kid)
		d.Error = "The kid you typed does not match; nothing was deleted."
		c.show(q, http.StatusBadRequest, "confirm_delete", "Delete signing key", "keys", d)
		return
	}
	err := c.o.Keys.Delete(q.r.Context(), q.actor, kid)
	c.done(q, keysURL, err, "Key "+kid+" deleted.")
}
