package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/authserver/authserver/authserver/apps"
)

// createSecret adds a secret to an app and shows it once.
func (c *Console) createSecret(q *request) {
	id := q.r.PathValue("id")
	created, err := c.o.Secrets.CreateSecret(q.r.Context(), q.actor, id, q.r.PostFormValue("idempotency_key"))
	if err != nil {
		c.done(q, appURL(id), err, "")
		return
	}
	c.showSecret(q, id, "New secret", created, nil)
}

// graceChoices are the grace periods the rotate form offers, the
// default first (docs/credentials.md, "Rotation without downtime": 24
// hours unless the rotation names another period).
var graceChoices = map[string]time.Duration{"24h": 24 * time.Hour, "1h": time.Hour, "168h": 7 * 24 * time.Hour, "0s": 0}

// rotateSecret creates a secret and gives the current one a grace period
// (docs/credentials.md, "Rotation without downtime"), then shows the new one
// once.
func (c *Console) rotateSecret(q *request) {
	id := q.r.PathValue("id")
	grace, ok := graceChoices[q.r.PostFormValue("grace_period")]
	if !ok {
		grace = apps.DefaultGracePeriod
	}
	rotated, err := c.o.Secrets.RotateSecret(q.r.Context(), q.actor, id, apps.RotateSecret{
		SecretID: q.r.PostFormValue("secret_id"), GracePeriod: &grace, IdempotencyKey: q.r.PostFormValue("idempotency_key"),
	})
	if err != nil {
		c.done(q, appURL(id), err, "")
		return
	}
	c.showSecret(q, id, "Secret rotated", rotated.CreatedSecret, rotated.Rotated)
}

// showSecret renders a new secret's plaintext, this once.
func (c *Console) showSecret(q *request, appID, heading string, s apps.CreatedSecret, rotated *apps.SecretView) {
	app, err := c.o.Apps.Get(q.r.Context(), appID)
	if err != nil {
		// The secret exists; say so rather than lose it.
		app = apps.AppView{ID: appID, ClientID: appID, Name: appID}
	}
	c.show(q, http.StatusOK, "secret_shown", heading, "apps", secretShown{
		Heading: heading + " for " + app.Name, App: app, SecretID: s.ID, Secret: s.Secret, Replay: s.Replay, Rotated: rotated,
	})
}

func (c *Console) discardSecret(q *request) {
	id, sid := q.r.PathValue("id"), q.r.PathValue("sid")
	_, err := c.o.Secrets.DiscardSecret(q.r.Context(), q.actor, id, sid)
	c.done(q, appURL(id), err, "Secret "+sid+" discarded: it is inactive and refused at once. Reactivate it, or delete it for good.")
}

func (c *Console) reactivateSecret(q *request) {
	id, sid := q.r.PathValue("id"), q.r.PathValue("sid")
	_, err := c.o.Secrets.ReactivateSecret(q.r.Context(), q.actor, id, sid)
	c.done(q, appURL(id), err, "Secret "+sid+" reactivated.")
}

// confirmDelete is the data of confirm_delete.html: an irreversible
// deletion the operator confirms by typing Expected.
type confirmDelete struct {
	Heading     string
	Subject     string
	Consequence string
	// Expected is what must be typed: the app's name for a secret, the
	// kid for a signing key.
	Expected string
	Label    string
	Action   string
	Back     string
	// BackLabel names the page Back leads to, for the breadcrumb.
	BackLabel string
	Error     string
}

// deleteSecretPage asks for the app's name before deleting an inactive
// secret: deletion is final (docs/credentials.md, "Expiry").
func (c *Console) deleteSecretPage(q *request) {
	id, sid := q.r.PathValue("id"), q.r.PathValue("sid")
	d, ok := c.secretDeletion(q, id, sid)
	if !ok {
		return
	}
	c.show(q, http.StatusOK, "confirm_delete", "Delete secret", "apps", d)
}

// secretDeletion loads what the confirmation shows; it answers the
// request itself when the app or secret is missing.
func (c *Console) secretDeletion(q *request, id, sid string) (confirmDelete, bool) {
	app, err := c.o.Apps.Get(q.r.Context(), id)
	if err != nil {
		c.failPage(q, err)
		return confirmDelete{}, false
	}
	var sec *apps.SecretView
	for i := range app.Secrets {
		if app.Secrets[i].ID == sid {
			sec = &app.Secrets[i]
		}
	}
	if sec == nil {
		c.show(q, http.StatusNotFound, "error", "Not found", "apps", errorPage{http.StatusNotFound, "Not found", "The app has no secret " + sid + "."})
		return confirmDelete{}, false
	}
	return confirmDelete{
		Heading: "Delete secret " + sec.Masked + " of " + app.Name,
		Subject: sec.Masked + " (" + sec.ID + ", " + sec.Status + ")",
		Consequence: "The secret can never authenticate again, and every token it minted " +
			"fails online checks from now on (offline verifiers accept them until they expire).",
		Expected: app.Name, Label: "Type the app's name, " + app.Name + ", to confirm",
		Action: appURL(id) + "/secrets/" + url.PathEscape(sid) + "/delete", Back: appURL(id), BackLabel: app.Name,
	}, true
}

// deleteSecret deletes an inactive secret once the operator has typed the
// app's name; the domain checks the rest (only an inactive secret).
func (c *Console) deleteSecret(q *request) {
	id, sid := q.r.PathValue("id"), q.r.PathValue("sid")
	d, ok := c.secretDeletion(q, id, sid)
	if !ok {
		return
	}
	if q.r.PostFormValue("confirm") != d.Expected {
		d.Error = "The name you typed does not match the app's name; nothing was deleted."
		c.show(q, http.StatusBadRequest, "confirm_delete", "Delete secret", "apps", d)
		return
	}
	err := c.o.Secrets.DeleteSecret(q.r.Context(), q.actor, id, sid, sid)
	c.done(q, appURL(id), err, "Secret "+sid+" deleted.")
}
