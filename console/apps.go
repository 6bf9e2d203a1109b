package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/idempotency"
)

// appsPageSize is how many apps one page of the listing shows.
const appsPageSize = 20

// appsData is the data of apps.html.
type appsData struct {
	Query string
	Apps  []appRow
	// Next is the URL of the following page ("" on the last); First
	// that of the first page ("" on it).
	Next, First string
}

type appRow struct {
	apps.AppView
	Active int
}

// appsPage lists apps by id, optionally those whose name starts with ?q=,
// one page at a time (?after= is the previous page's last id).
func (c *Console) appsPage(q *request) {
	query := strings.TrimSpace(q.r.URL.Query().Get("q"))
	after := q.r.URL.Query().Get("after")
	rows, next, err := c.o.Apps.List(q.r.Context(), query, authserver.Page{After: after, Limit: appsPageSize})
	if err != nil {
		c.failPage(q, err)
		return
	}
	d := appsData{Query: query}
	for _, a := range rows {
		row := appRow{AppView: a}
		for _, s := range a.Secrets {
			if s.Status == apps.StatusActive {
				row.Active++
			}
		}
		d.Apps = append(d.Apps, row)
	}
	if next != "" {
		d.Next = "/console/apps?" + url.Values{"q": {query}, "after": {next}}.Encode()
	}
	if after != "" {
		d.First = "/console/apps?" + url.Values{"q": {query}}.Encode()
	}
	c.show(q, http.StatusOK, "apps", "Apps", "apps", d)
}

// appForm is the create or edit form's values, kept to refill it after
// a refusal.
type appForm struct {
	// Edit: the form changes app AppID instead of creating one.
	Edit  bool
	AppID string

	Name, Environment, Scopes, Audiences, Origins string
	AccessTokenLifetime, UserTokenLifetime        string
	// IdempotencyKey makes a resubmitted form (reload, double click)
	// replay the first create instead of making a second app.
	IdempotencyKey string
	Error          string
}

func newIdempotencyKey() string { return "console-" + randomToken() }

func (c *Console) newAppPage(q *request) {
	c.show(q, http.StatusOK, "app_new", "New app", "apps", appForm{Environment: credential.EnvLive, IdempotencyKey: newIdempotencyKey()})
}

// fields splits a list typed as words separated by spaces, commas or
// new lines.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\r' || r == '\t' })
}

// secretShown is the data of secret_shown.html: a plaintext secret shown
// this once, or a replay notice when the form was submitted before.
type secretShown struct {
	Heading  string
	App      apps.AppView
	SecretID string
	Secret   string
	Replay   *idempotency.Replay
	// Rotated is the secret being rotated out, with its end.
	Rotated *apps.SecretView
}

// readAppForm reads the create or edit form and parses its lifetimes
// ("" is the server default). Errors: the message for the operator.
func readAppForm(r *http.Request) (f appForm, at, ut time.Duration, msg string) {
	f = appForm{
		Name: r.PostFormValue("name"), Environment: r.PostFormValue("environment"),
		Scopes: r.PostFormValue("scopes"), Audiences: r.PostFormValue("audiences"), Origins: r.PostFormValue("origins"),
		AccessTokenLifetime: strings.TrimSpace(r.PostFormValue("access_token_lifetime")),
		UserTokenLifetime:   strings.TrimSpace(r.PostFormValue("user_token_lifetime")),
		IdempotencyKey:      r.PostFormValue("idempotency_key"),
	}
	if f.Environment == "" {
		f.Environment = credential.EnvLive // the form's preselected option
	}
	for _, l := range []struct {
		in  string
		out *time.Duration
	}{{f.AccessTokenLifetime, &at}, {f.UserTokenLifetime, &ut}} {
		if l.in == "" {
			continue
		}
		d, err := time.ParseDuration(l.in)
		if err != nil {
			return f, 0, 0, `Token lifetimes are durations such as "15m" or "1h", or empty for the server default.`
		}
		*l.out = d
	}
	return f, at, ut, ""
}

// createApp registers an app with its first secret and shows the secret
// once (docs/credentials.md, "Secret keys"). The answer is the page itself, not a redirect, so that
// the plaintext is kept nowhere, not even for the next request.
func (c *Console) createApp(q *request) {
	f, at, ut, msg := readAppForm(q.r)
	if msg != "" {
		f.Error = msg
		c.show(q, http.StatusBadRequest, "app_new", "New app", "apps", f)
		return
	}
	in := apps.NewApp{
		Name: f.Name, Environment: f.Environment,
		Scopes: fields(f.Scopes), Audiences: fields(f.Audiences), Origins: fields(f.Origins),
		AccessTokenLifetime: at, UserTokenLifetime: ut, IdempotencyKey: f.IdempotencyKey,
	}
	created, err := c.o.Apps.Create(q.r.Context(), q.actor, in)
	if err != nil {
		status, _, msg := describe(err)
		f.Error = msg
		c.show(q, status, "app_new", "New app", "apps", f)
		return
	}
	c.show(q, http.StatusOK, "secret_shown", "App created", "apps", secretShown{
		Heading: "App " + created.Name + " created", App: created.AppView,
		SecretID: created.SecretID, Secret: created.ClientSecret, Replay: created.Replay,
	})
}

// appData is the data of app.html.
type appData struct {
	App     apps.AppView
	Secrets []secretRow
	// NoCreate and NoRotate say why a new secret cannot be added now ("":
	// it can).
	NoCreate, NoRotate string
	// CreateKey and RotateKey are the idempotency keys of the secret
	// forms rendered on this page.
	CreateKey, RotateKey string
}

// secretRow is a masked secret with the actions its state allows.
type secretRow struct {
	apps.SecretView
	Rotating bool
	// NoDiscard and NoReactivate say why the action is refused now ("":
	// it is allowed), so that the page disables the button and says why
	// (docs/console.md, "Pages"). They are hints: the domain decides.
	NoDiscard, NoReactivate string
}

// secretRows describes the buttons of each secret from the rules of
// docs/admin-api.md ("Secrets: the rules").
func secretRows(secrets []apps.SecretView, now time.Time) (rows []secretRow, noCreate string) {
	live, permanent, inactive := 0, 0, 0
	for _, s := range secrets {
		switch s.Status {
		case apps.StatusActive:
			live++
			if s.ExpiresAt == nil {
				permanent++
			}
		case apps.StatusInactive:
			inactive++
		}
	}
	if live >= apps.MaxActiveSecrets {
		noCreate = "The app has two active secrets: discard one, or wait until the rotated one expires."
	}
	for _, s := range secrets {
		r := secretRow{SecretView: s, Rotating: s.Status == apps.StatusActive && s.ExpiresAt != nil}
		switch {
		case s.Status == apps.StatusInactive:
			if s.ExpiresAt != nil && !now.Before(*s.ExpiresAt) {
				r.NoReactivate = "its grace period has ended"
			} else if live >= apps.MaxActiveSecrets {
				r.NoReactivate = "two secrets are active already"
			}
		case inactive >= apps.MaxInactiveSecrets:
			r.NoDiscard = "another secret is inactive: delete or reactivate it first"
		case s.Status == apps.StatusActive && s.ExpiresAt == nil && permanent <= 1:
			r.NoDiscard = "the last active secret: rotate it first"
		}
		rows = append(rows, r)
	}
	return rows, noCreate
}

// appPage shows an app: what it may ask for, and its secrets, masked.
func (c *Console) appPage(q *request) {
	app, err := c.o.Apps.Get(q.r.Context(), q.r.PathValue("id"))
	if err != nil {
		c.failPage(q, err)
		return
	}
	d := appData{App: app, CreateKey: newIdempotencyKey(), RotateKey: newIdempotencyKey()}
	d.Secrets, d.NoCreate = secretRows(app.Secrets, c.o.Now())
	d.NoRotate = d.NoCreate
	c.show(q, http.StatusOK, "app", app.Name, "apps", d)
}

func appURL(id string) string { return "/console/apps/" + url.PathEscape(id) }

// setEnabled disables or enables an app: a disabled app gets no token and
// its tokens fail online checks (docs/admin-api.md, "When changes apply").
func (c *Console) setEnabled(enabled bool) func(*request) {
	return func(q *request) {
		id := q.r.PathValue("id")
		app, err := c.o.Apps.SetEnabled(q.r.Context(), q.actor, id, enabled)
		verb := "disabled: it gets no new token, and its tokens fail online checks"
		if enabled {
			verb = "enabled"
		}
		c.done(q, appURL(id), err, "App "+app.Name+" "+verb+".")
	}
}

// editAppPage shows the app's settings in a form.
func (c *Console) editAppPage(q *request) {
	app, err := c.o.Apps.Get(q.r.Context(), q.r.PathValue("id"))
	if err != nil {
		c.failPage(q, err)
		return
	}
	c.show(q, http.StatusOK, "app_new", "Edit "+app.Name, "apps", appForm{
		Edit: true, AppID: app.ID, Name: app.Name, Environment: app.Environment,
		Scopes: strings.Join(app.Scopes, " "), Audiences: strings.Join(app.Audiences, "\n"), Origins: strings.Join(app.Origins, "\n"),
		AccessTokenLifetime: app.AccessTokenLifetime, UserTokenLifetime: app.UserTokenLifetime,
	})
}

// editApp changes what differs between the form and the app: name,
// allowed scopes, audiences, origins, token lifetimes. The App ID and the
// environment never change (docs/credentials.md, "Two keys per app").
func (c *Console) editApp(q *request) {
	id := q.r.PathValue("id")
	app, err := c.o.Apps.Get(q.r.Context(), id)
	if err != nil {
		c.failPage(q, err)
		return
	}
	f, at, ut, msg := readAppForm(q.r)
	f.Edit, f.AppID, f.Environment = true, app.ID, app.Environment
	if msg != "" {
		f.Error = msg
		c.show(q, http.StatusBadRequest, "app_new", "Edit "+app.Name, "apps", f)
		return
	}
	var u apps.AppUpdate
	var changed []string
	if name := strings.TrimSpace(f.Name); name != app.Name {
		u.Name, changed = &name, append(changed, "name")
	}
	for _, l := range []struct {
		name      string
		form, was []string
		out       **[]string
	}{
		{"scopes", fields(f.Scopes), app.Scopes, &u.Scopes},
		{"audiences", fields(f.Audiences), app.Audiences, &u.Audiences},
		{"origins", fields(f.Origins), app.Origins, &u.Origins},
	} {
		if strings.Join(l.form, " ") != strings.Join(l.was, " ") {
			v := l.form
			*l.out, changed = &v, append(changed, l.name)
		}
	}
	for _, l := range []struct {
		name string
		form time.Duration
		was  string
		out  **time.Duration
	}{
		{"access token lifetime", at, app.AccessTokenLifetime, &u.AccessTokenLifetime},
		{"user token lifetime", ut, app.UserTokenLifetime, &u.UserTokenLifetime},
	} {
		was, _ := time.ParseDuration(l.was) // "" (server default) is 0
		if l.form != was {
			v := l.form
			*l.out, changed = &v, append(changed, l.name)
		}
	}
	if len(changed) == 0 {
		c.done(q, appURL(id), nil, "Nothing changed.")
		return
	}
	if _, err := c.o.Apps.Update(q.r.Context(), q.actor, id, u); err != nil {
		status, _, msg := describe(err)
		f.Error = msg
		c.show(q, status, "app_new", "Edit "+app.Name, "apps", f)
		return
	}
	c.done(q, appURL(id), nil, "App updated: "+strings.Join(changed, ", ")+". New tokens follow at once.")
}

// setDPoP changes the app's DPoP policy (RFC 9449): whether its tokens are
// issued only with a proof (dpop_bound_access_tokens) and whether proofs
// must carry a server nonce (dpop_nonce_required). A checkbox left
// unticked is off; only what differs from the app is written.
func (c *Console) setDPoP(q *request) {
	id := q.r.PathValue("id")
	app, err := c.o.Apps.Get(q.r.Context(), id)
	if err != nil {
		c.failPage(q, err)
		return
	}
	bound, nonce := q.r.PostFormValue("dpop_bound_access_tokens") == "on", q.r.PostFormValue("dpop_nonce_required") == "on"
	var u apps.AppUpdate
	var changed []string
	if bound != app.DPoPBoundAccessTokens {
		u.DPoPBoundAccessTokens, changed = &bound, append(changed, "tokens only with a proof "+onOff(bound))
	}
	if nonce != app.DPoPNonceRequired {
		u.DPoPNonceRequired, changed = &nonce, append(changed, "server nonce "+onOff(nonce))
	}
	if len(changed) == 0 {
		c.done(q, appURL(id), nil, "Nothing changed.")
		return
	}
	_, err = c.o.Apps.Update(q.r.Context(), q.actor, id, u)
	c.done(q, appURL(id), err, "DPoP policy updated: "+strings.Join(changed, ", ")+". New token requests follow at once.")
}

func onOff(b bool) string {
	if b {
		return "required"
	}
	return "not required"
}
