package test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// The admin console without a browser (issue 8, item 2): sessions, CSRF,
// same-origin checks and roles, through net/http against a real server.

// consoleClient is a browser stand-in: a cookie jar, no redirect
// following, and the Origin header a browser sends on a same-origin post.
type consoleClient struct {
	t    *testing.T
	in   *testserver.Instance
	http *http.Client
}

func newConsoleClient(t *testing.T, in *testserver.Instance) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, in: in, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type consoleResp struct {
	status int
	header http.Header
	body   string
}

func (c *consoleClient) do(req *http.Request) consoleResp {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return consoleResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *consoleClient) get(path string) consoleResp {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.in.AdminURL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form with Origin set to the console's own origin; headers
// (name, value pairs) replace it or add others; an empty value removes
// the header.
func (c *consoleClient) post(path string, form url.Values, headers ...string) consoleResp {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.in.AdminURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.in.AdminURL)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return c.do(req)
}

// postRaw sends body as it is, with the console's own Origin.
func (c *consoleClient) postRaw(path, contentType, body string) consoleResp {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.in.AdminURL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", c.in.AdminURL)
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfIn returns the CSRF token of the first form in a page.
func csrfIn(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// signIn signs in with key and returns the session's CSRF token.
func (c *consoleClient) signIn(key string) string {
	c.t.Helper()
	page := c.get("/console/signin")
	r := c.post("/console/signin", url.Values{"csrf": {csrfIn(c.t, page.body)}, "account_key": {key}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/apps" {
		c.t.Fatalf("sign-in: status %d, Location %q", r.status, r.header.Get("Location"))
	}
	apps := c.get("/console/apps")
	if apps.status != http.StatusOK {
		c.t.Fatalf("after sign-in: status %d", apps.status)
	}
	return csrfIn(c.t, apps.body)
}

// sessionCookie is the console session cookie the jar holds ("" if none).
func (c *consoleClient) sessionCookie() string {
	u, _ := url.Parse(c.in.AdminURL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "authserver_console" {
			return ck.Value
		}
	}
	return ""
}

// Every console response carries the security headers, the session
// cookie is HttpOnly and SameSite=Strict (not Secure: the admin listener
// is plain http on loopback here), holds a random id and never the key,
// and the pages load nothing from elsewhere.
func TestConsoleHeadersAndCookie(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	c := newConsoleClient(t, in)
	for _, path := range []string{"/console/signin", "/console/apps", "/console/nowhere", "/console/static/console.css"} {
		r := c.get(path)
		h := r.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		for name, want := range map[string]string{
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", path, name, got, want)
			}
		}
	}
	if cc := c.get("/console/signin").header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("pages are cacheable: Cache-Control %q", cc)
	}

	page := c.get("/console/signin")
	r := c.post("/console/signin", url.Values{"csrf": {csrfIn(t, page.body)}, "account_key": {in.AdminKey}})
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "authserver_console" {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no session cookie after sign-in: %v", r.header["Set-Cookie"])
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie %+v", session)
	}
	if len(session.Value) != 43 || strings.Contains(session.Value, in.AdminKey[3:12]) {
		t.Fatalf("session cookie value is not a 256-bit random id (%d characters)", len(session.Value))
	}

	for _, path := range []string{"/console/apps", "/console/keys", "/console/audit", "/console/token", "/console/apps/new"} {
		body := c.get(path).body
		assertNoneIn(t, path, body, in.AdminKey)
		if m := regexp.MustCompile(`(?:src|href|action)="(?:https?:)?//`).FindString(body); m != "" {
			t.Errorf("%s refers to another site: %s", path, m)
		}
	}
	for _, asset := range []string{"/console/static/console.css", "/console/static/console.js"} {
		r := c.get(asset)
		if r.status != http.StatusOK || regexp.MustCompile(`https?://|@import|url\(`).MatchString(r.body) {
			t.Errorf("%s: status %d, or it loads something", asset, r.status)
		}
	}
}

// Sign-in refuses, with nothing stored and no session: a wrong key (401),
// a form without its token or from another origin (403).
func TestConsoleSignInRefusals(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	wrongKey := "ak_" + strings.Repeat("A", 55)
	cases := []struct {
		name    string
		key     string
		token   bool
		headers []string
		want    int
	}{
		{"wrong key", wrongKey, true, nil, http.StatusUnauthorized},
		{"malformed key", "not-a-key", true, nil, http.StatusUnauthorized},
		{"no form token", in.AdminKey, false, nil, http.StatusForbidden},
		{"another origin", in.AdminKey, true, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", in.AdminKey, true, []string{"Sec-Fetch-Site", "cross-site", "Origin", "null"}, http.StatusForbidden},
		{"no origin at all", in.AdminKey, true, []string{"Origin", ""}, http.StatusForbidden},
		{"another referer", in.AdminKey, true, []string{"Origin", "", "Referer", "https://evil.example/x"}, http.StatusForbidden},
	}
	before := in.DumpStore(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newConsoleClient(t, in)
			form := url.Values{"account_key": {tc.key}}
			if tc.token {
				form.Set("csrf", csrfIn(t, c.get("/console/signin").body))
			}
			r := c.post("/console/signin", form, tc.headers...)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d", r.status, tc.want)
			}
			if c.sessionCookie() != "" {
				t.Fatal("a refused sign-in got a session cookie")
			}
			if got := c.get("/console/apps"); got.status != http.StatusSeeOther {
				t.Fatalf("after a refused sign-in /console/apps is %d", got.status)
			}
		})
	}
	assertStoreUnchanged(t, in, before)

	// A page asked for before sign-in is where sign-in leads.
	c := newConsoleClient(t, in)
	r := c.get("/console/keys")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin?next=%2Fconsole%2Fkeys" {
		t.Fatalf("signed out GET /console/keys: %d %q", r.status, r.header.Get("Location"))
	}
	page := c.get(r.header.Get("Location")).body
	if !strings.Contains(page, `name="next" value="/console/keys"`) {
		t.Fatal("the sign-in form does not carry the page asked for")
	}
	r = c.post("/console/signin", url.Values{"csrf": {csrfIn(t, page)}, "account_key": {in.AdminKey}, "next": {"/console/keys"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/keys" {
		t.Fatalf("sign-in with next: %d %q", r.status, r.header.Get("Location"))
	}

	// The same-origin form with a Referer (no Origin) and one with a
	// browser's "Origin: null" plus Sec-Fetch-Site are accepted.
	for _, headers := range [][]string{
		{"Origin", "", "Referer", in.AdminURL + "/console/signin"},
		{"Origin", "null", "Sec-Fetch-Site", "same-origin"},
	} {
		c := newConsoleClient(t, in)
		r := c.post("/console/signin", url.Values{"csrf": {csrfIn(t, c.get("/console/signin").body)}, "account_key": {in.AdminKey}}, headers...)
		if r.status != http.StatusSeeOther {
			t.Fatalf("headers %v: status %d", headers, r.status)
		}
	}
}

// Every form needs the session's CSRF token and a same-origin post, and
// the role of the session's key: a viewer's forged posts, and an admin's
// posts without the token or from another origin, are 403 and change
// nothing; the same post done right goes through.
func TestConsoleFormsNeedTokenOriginAndRole(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read"}})
	second := createSecret(t, in, app.ClientID)
	kid := keyListing(t, in).Items[0].KID
	_, viewerKey := createAccountKey(t, in, "auditor", "viewer")

	admin := newConsoleClient(t, in)
	adminToken := admin.signIn(in.AdminKey)
	viewer := newConsoleClient(t, in)
	viewerToken := viewer.signIn(viewerKey)

	appPath := "/console/apps/" + app.ClientID
	forms := []struct {
		path   string
		fields url.Values
	}{
		{"/console/apps", url.Values{"name": {"forged"}, "environment": {"live"}}},
		{appPath + "/disable", nil},
		{appPath + "/edit", url.Values{"name": {"forged"}, "scopes": {"read admin"}}},
		{appPath + "/dpop", url.Values{"dpop_bound_access_tokens": {"on"}}},
		{appPath + "/secrets", nil},
		{appPath + "/secrets/rotate", url.Values{"grace_period": {"0s"}}},
		{appPath + "/secrets/" + second.ID + "/discard", nil},
		{appPath + "/secrets/" + app.SecretID + "/reactivate", nil},
		{appPath + "/secrets/" + app.SecretID + "/delete", url.Values{"confirm": {"billing"}}},
		{"/console/keys/rotate", url.Values{"immediate": {"1"}, "acknowledge": {"yes"}}},
		{"/console/keys/" + kid + "/discard", nil},
		{"/console/keys/" + kid + "/delete", url.Values{"confirm": {kid}}},
		{"/console/token", url.Values{"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}}},
		{"/console/signout", nil},
	}
	with := func(fields url.Values, token string) url.Values {
		v := url.Values{}
		for k, vs := range fields {
			v[k] = vs
		}
		if token != "" {
			v.Set("csrf", token)
		}
		return v
	}
	before := in.DumpStore(t)
	for _, f := range forms {
		t.Run(strings.TrimPrefix(f.path, "/console/"), func(t *testing.T) {
			cases := []struct {
				name    string
				c       *consoleClient
				form    url.Values
				headers []string
			}{
				{"admin without token", admin, with(f.fields, ""), nil},
				{"admin with another session's token", admin, with(f.fields, viewerToken), nil},
				{"admin from another origin", admin, with(f.fields, adminToken), []string{"Origin", "https://evil.example"}},
				{"admin cross-site", admin, with(f.fields, adminToken), []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}},
				{"viewer with its token", viewer, with(f.fields, viewerToken), nil},
			}
			for _, tc := range cases {
				if tc.c == viewer && f.path == "/console/signout" {
					continue // a viewer may sign itself out
				}
				if r := tc.c.post(f.path, tc.form, tc.headers...); r.status != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403", tc.name, r.status)
				}
			}
		})
	}
	assertStoreUnchanged(t, in, before)
	for _, p := range []string{"/console/apps/new", "/console/token", appPath + "/edit", appPath + "/secrets/" + app.SecretID + "/delete", "/console/keys/" + kid + "/delete"} {
		if r := viewer.get(p); r.status != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", p, r.status)
		}
	}
	if r := viewer.get(appPath); r.status != http.StatusOK || strings.Count(r.body, `method="post"`) != 1 {
		t.Errorf("viewer's app page: status %d, %d post forms (want only sign-out)", r.status, strings.Count(r.body, `method="post"`))
	}

	// Done right, the same post works: both sessions are still signed in.
	if r := admin.post(appPath+"/disable", with(nil, adminToken)); r.status != http.StatusSeeOther {
		t.Fatalf("admin disable: status %d", r.status)
	}
	var got struct {
		Enabled bool `json:"enabled"`
	}
	mustAdmin(t, in, http.StatusOK, http.MethodGet, "/admin/v1/apps/"+app.ClientID, nil, &got)
	if got.Enabled {
		t.Fatal("the admin's disable did not apply")
	}
	if r := viewer.get("/console/apps"); r.status != http.StatusOK {
		t.Fatalf("viewer session after the refusals: %d", r.status)
	}
}

// Sessions end after the idle timeout, after their lifetime however
// active, at sign-out (the old cookie is then worthless), and when their
// account key is deleted.
func TestConsoleSessionsEnd(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) {
		c.Console.SessionIdleTimeout = 10 * time.Minute
		c.Console.SessionLifetime = time.Hour
		// The clock jumps here while caches refresh in real time.
		c.Cache.MaxStaleness = 1000 * time.Hour
	})
	signedIn := func(c *consoleClient) bool {
		t.Helper()
		switch r := c.get("/console/apps"); r.status {
		case http.StatusOK:
			return true
		case http.StatusSeeOther:
			return false
		default:
			t.Fatalf("GET /console/apps: %d", r.status)
			return false
		}
	}

	t.Run("idle", func(t *testing.T) {
		c := newConsoleClient(t, in)
		c.signIn(in.AdminKey)
		in.Clock.Advance(9 * time.Minute)
		if !signedIn(c) {
			t.Fatal("signed out before the idle timeout")
		}
		in.Clock.Advance(9 * time.Minute) // 18 min after sign-in, 9 after use
		if !signedIn(c) {
			t.Fatal("use did not restart the idle timer")
		}
		in.Clock.Advance(10 * time.Minute)
		if signedIn(c) {
			t.Fatal("still signed in after 10 idle minutes")
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		c := newConsoleClient(t, in)
		c.signIn(in.AdminKey)
		for elapsed := 5 * time.Minute; elapsed < time.Hour; elapsed += 5 * time.Minute {
			in.Clock.Advance(5 * time.Minute)
			if !signedIn(c) {
				t.Fatalf("signed out %v after sign-in, while active", elapsed)
			}
		}
		in.Clock.Advance(5 * time.Minute)
		if signedIn(c) {
			t.Fatal("still signed in an hour after sign-in")
		}
	})
	t.Run("sign-out", func(t *testing.T) {
		c := newConsoleClient(t, in)
		token := c.signIn(in.AdminKey)
		old := c.sessionCookie()
		if r := c.post("/console/signout", url.Values{}); r.status != http.StatusForbidden {
			t.Fatalf("sign-out without the token: %d, want 403", r.status)
		}
		if !signedIn(c) {
			t.Fatal("a refused sign-out ended the session")
		}
		r := c.post("/console/signout", url.Values{"csrf": {token}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/console/signin") {
			t.Fatalf("sign-out: %d %q", r.status, r.header.Get("Location"))
		}
		if c.sessionCookie() != "" {
			t.Fatal("the cookie survived the sign-out")
		}
		replay := newConsoleClient(t, in)
		u, _ := url.Parse(in.AdminURL)
		replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "authserver_console", Value: old, Path: "/"}})
		if signedIn(replay) {
			t.Fatal("the signed-out session id still works")
		}
	})
	t.Run("deleted key", func(t *testing.T) {
		id, key := createAccountKey(t, in, "temp", "admin")
		c := newConsoleClient(t, in)
		c.signIn(key)
		mustAdmin(t, in, http.StatusNoContent, http.MethodDelete, "/admin/v1/account-keys/"+id, nil, nil)
		if signedIn(c) {
			t.Fatal("the session of a deleted account key goes on")
		}
	})
}

// What the rules refuse is refused through the console too, said on the
// page, and changes nothing: discarding the last active secret, a
// deletion whose typed confirmation does not match, deleting an active
// secret or key. A resubmitted create form (reload, double click) makes
// nothing new and shows no secret (the Idempotency-Key the form carries).
func TestConsoleRefusalsAndResubmission(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read"}})
	kid := keyListing(t, in).Items[0].KID
	c := newConsoleClient(t, in)
	token := c.signIn(in.AdminKey)
	appPath := "/console/apps/" + app.ClientID
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {token}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	before := in.DumpStore(t)
	cases := []struct {
		name, path string
		form       url.Values
		status     int
		// notice is what the answer, or the page it redirects to, says.
		notice string
	}{
		{"discard the last active secret", appPath + "/secrets/" + app.SecretID + "/discard", form(), http.StatusSeeOther, "last_active_secret"},
		{"delete an active secret", appPath + "/secrets/" + app.SecretID + "/delete", form("confirm", "billing"), http.StatusSeeOther, "secret_active"},
		{"delete with another name typed", appPath + "/secrets/" + app.SecretID + "/delete", form("confirm", "Billing"), http.StatusBadRequest, "does not match"},
		{"delete a key with another kid typed", "/console/keys/" + kid + "/delete", form("confirm", kid[:10]), http.StatusBadRequest, "does not match"},
		{"discard the active key", "/console/keys/" + kid + "/discard", form(), http.StatusSeeOther, "key_active"},
		{"delete the active key", "/console/keys/" + kid + "/delete", form("confirm", kid), http.StatusSeeOther, "key_not_inactive"},
		{"immediate rotation without the acknowledgement", "/console/keys/rotate", form("immediate", "1"), http.StatusSeeOther, "acknowledgement"},
		{"an invalid app", "/console/apps", form("name", "x", "scopes", "bad\"scope"), http.StatusBadRequest, "invalid_scope"},
		{"a bad lifetime", "/console/apps", form("name", "x", "access_token_lifetime", "soon"), http.StatusBadRequest, "durations"},
		{"an unknown app", "/console/apps/app_live_nope/disable", form(), http.StatusSeeOther, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post(tc.path, tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			page := r.body
			if r.status == http.StatusSeeOther {
				page = c.get(r.header.Get("Location")).body
				if !strings.Contains(page, `class="flash flash-error"`) {
					t.Fatalf("the next page shows no error notice")
				}
			}
			if !strings.Contains(page, tc.notice) {
				t.Fatalf("the page does not say %q", tc.notice)
			}
		})
	}
	assertStoreUnchanged(t, in, before)

	// A create form submitted twice: one app, and the second answer
	// shows no secret.
	newForm := c.get("/console/apps/new").body
	key := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(newForm)
	if key == nil {
		t.Fatal("the create form carries no idempotency key")
	}
	create := form("name", "payments", "environment", "test", "scopes", "read write", "idempotency_key", key[1])
	first := c.post("/console/apps", create)
	secretShape := regexp.MustCompile(`sk_test_[0-9A-Za-z]{49}`)
	secret := secretShape.FindString(first.body)
	if first.status != http.StatusOK || secret == "" {
		t.Fatalf("create: status %d, secret shown: %v", first.status, secret != "")
	}
	second := c.post("/console/apps", create)
	if second.status != http.StatusOK || !strings.Contains(second.body, "submitted before") || secretShape.MatchString(second.body) {
		t.Fatalf("resubmitted create: status %d, replay notice %v", second.status, strings.Contains(second.body, "submitted before"))
	}
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	mustAdmin(t, in, http.StatusOK, http.MethodGet, "/admin/v1/apps?name=payments", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d apps named payments after a resubmitted form, want 1", len(list.Items))
	}
	if _, err := tokenFor(in.PublicURL+"/oauth2/token", regexp.MustCompile(`app_test_[0-9A-Za-z]+`).FindString(first.body), secret); err != nil {
		t.Fatalf("the secret the console showed does not work: %v", err)
	}
}

// The edit form changes what differs, with the rules of the admin API's
// PATCH; an unchanged form writes nothing, a refused one neither.
func TestConsoleEditApp(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read"}, "audiences": []string{api}})
	c := newConsoleClient(t, in)
	token := c.signIn(in.AdminKey)
	path := "/console/apps/" + app.ClientID + "/edit"
	page := c.get(path)
	if page.status != http.StatusOK || !strings.Contains(page.body, `value="billing"`) || !strings.Contains(page.body, api+"</textarea>") {
		t.Fatalf("edit form: status %d, not filled with the app's values", page.status)
	}
	same := url.Values{"csrf": {token}, "name": {"billing"}, "scopes": {"read"}, "audiences": {api}}

	before := in.DumpStore(t)
	r := c.post(path, same)
	if r.status != http.StatusSeeOther || !strings.Contains(c.get(r.header.Get("Location")).body, "Nothing changed.") {
		t.Fatalf("unchanged form: %d", r.status)
	}
	bad := url.Values{"csrf": {token}, "name": {"billing"}, "scopes": {"read"}, "audiences": {api}, "origins": {"not-an-origin"}}
	if r := c.post(path, bad); r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid_origin") || !strings.Contains(r.body, "not-an-origin") {
		t.Fatalf("invalid origin: %d", r.status)
	}
	assertStoreUnchanged(t, in, before)

	changed := url.Values{"csrf": {token}, "name": {"billing-v2"}, "scopes": {"read write"}, "audiences": {api},
		"origins": {"https://app.example.com"}, "access_token_lifetime": {"15m"}}
	if r := c.post(path, changed); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	var got struct {
		Name                string   `json:"name"`
		Scopes              []string `json:"scopes"`
		Origins             []string `json:"origins"`
		AccessTokenLifetime string   `json:"access_token_lifetime"`
	}
	mustAdmin(t, in, http.StatusOK, http.MethodGet, "/admin/v1/apps/"+app.ClientID, nil, &got)
	if got.Name != "billing-v2" || strings.Join(got.Scopes, " ") != "read write" || strings.Join(got.Origins, " ") != "https://app.example.com" || got.AccessTokenLifetime != "15m0s" {
		t.Fatalf("after the edit: %+v", got)
	}
	tok, err := tokenFor(in.PublicURL+"/oauth2/token", app.ClientID, app.ClientSecret)
	if err != nil {
		t.Fatalf("a token after the edit: %v", err)
	}
	if d := time.Until(tok.Expiry); d > 16*time.Minute {
		t.Fatalf("a token after the lifetime change expires in %v, want 15m", d)
	}
}

// A console form whose body does not decode is refused whole with 400,
// never read with the bad parameter missing: an edit whose scopes do not
// decode would otherwise save the app with no scopes at all. Nothing
// stored changes, the sign-in form included, and the page says what was
// wrong without echoing the body.
func TestConsoleRefusesMalformedForms(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read", "write"}})
	c := newConsoleClient(t, in)
	token := c.signIn(in.AdminKey)
	edit := "/console/apps/" + app.ClientID + "/edit"
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, path, contentType, body, want string
	}{
		{"bad escape in scopes", edit, form, "csrf=" + token + "&name=billing&scopes=read%zz", "must be followed by two hexadecimal digits"},
		{"bad escape in the name", edit, form, "csrf=" + token + "&name=bil%2ling&scopes=read", "must be followed by two hexadecimal digits"},
		{"semicolon separator", edit, form, "csrf=" + token + ";name=billing&scopes=read", "is not a parameter separator"},
		{"multipart body", edit, "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + token + "\r\n--x--\r\n", "must be application/x-www-form-urlencoded"},
		{"disable with a bad escape", "/console/apps/" + app.ClientID + "/disable", form, "csrf=" + token + "&x=%zz", "must be followed by two hexadecimal digits"},
		{"sign-in with a bad escape", "/console/signin", form, "csrf=x&account_key=" + in.AdminKey + "%zz", "must be followed by two hexadecimal digits"},
	}
	before := in.DumpStore(t)
	for _, tc := range tests {
		r := c.postRaw(tc.path, tc.contentType, tc.body)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.want) || strings.Contains(r.body, "%zz") || strings.Contains(r.body, in.AdminKey) {
			t.Errorf("%s: status %d, want 400 saying %q\n%s", tc.name, r.status, tc.want, r.body)
		}
	}
	assertStoreUnchanged(t, in, before)
	// The same edit, well formed, goes through.
	if r := c.postRaw(edit, form, "csrf="+token+"&name=billing&scopes=read"); r.status != http.StatusSeeOther {
		t.Fatalf("the well-formed edit: %d\n%s", r.status, r.body)
	}
}

// The listings page and filter, and the reversible transitions come back:
// apps 20 a page with search, the audit log filtered by actor and action,
// a discarded secret and a discarded key reactivated, and the token
// tester's refusal shown as the token endpoint's error.
func TestConsoleListingsAndReversals(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	for i := range 23 {
		in.CreateApp(t, map[string]any{"name": fmt.Sprintf("svc-%02d", i)})
	}
	other := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read"}})
	c := newConsoleClient(t, in)
	token := c.signIn(in.AdminKey)
	rows := regexp.MustCompile(`<th scope="row"><a href="/console/apps/(app_[A-Za-z0-9_]+)">`)
	next := regexp.MustCompile(`href="(/console/apps\?[^"]+)" rel="next"`)

	t.Run("apps paging and search", func(t *testing.T) {
		seen := map[string]bool{}
		page, pages := "/console/apps", 0
		for page != "" {
			body := c.get(strings.ReplaceAll(page, "&amp;", "&")).body
			pages++
			ids := rows.FindAllStringSubmatch(body, -1)
			if len(ids) == 0 || len(ids) > 20 {
				t.Fatalf("page %d lists %d apps", pages, len(ids))
			}
			for _, m := range ids {
				if seen[m[1]] {
					t.Fatalf("app %s listed twice", m[1])
				}
				seen[m[1]] = true
			}
			page = ""
			if m := next.FindStringSubmatch(body); m != nil {
				page = m[1]
			}
		}
		if pages != 2 || len(seen) != 24 {
			t.Fatalf("%d apps over %d pages, want 24 over 2", len(seen), pages)
		}
		body := c.get("/console/apps?q=bill").body
		if ids := rows.FindAllStringSubmatch(body, -1); len(ids) != 1 || ids[0][1] != other.ClientID {
			t.Fatalf("search for bill lists %v", ids)
		}
	})

	t.Run("secret discarded and reactivated", func(t *testing.T) {
		second := createSecret(t, in, other.ClientID)
		base := "/console/apps/" + other.ClientID + "/secrets/" + second.ID
		for _, step := range []struct{ action, status string }{{"discard", "inactive"}, {"reactivate", "active"}} {
			if r := c.post(base+"/"+step.action, url.Values{"csrf": {token}}); r.status != http.StatusSeeOther {
				t.Fatalf("%s: %d", step.action, r.status)
			}
			if got := listSecrets(t, in, other.ClientID)[second.ID].Status; got != step.status {
				t.Fatalf("after %s the secret is %s", step.action, got)
			}
		}
		if _, err := tokenFor(in.PublicURL+"/oauth2/token", other.ClientID, second.Secret); err != nil {
			t.Fatalf("the reactivated secret: %v", err)
		}
	})

	t.Run("key discarded and reactivated", func(t *testing.T) {
		old := keyListing(t, in).Items[0].KID
		for _, step := range []struct{ path, form, state string }{
			{"/console/keys/rotate", "immediate=1&acknowledge=yes", "retired"},
			{"/console/keys/" + old + "/discard", "", "inactive"},
			{"/console/keys/" + old + "/reactivate", "", "retired"},
		} {
			form, _ := url.ParseQuery(step.form)
			form.Set("csrf", token)
			if r := c.post(step.path, form); r.status != http.StatusSeeOther {
				t.Fatalf("%s: %d", step.path, r.status)
			}
			for _, k := range keyListing(t, in).Items {
				if k.KID == old && k.State != step.state {
					t.Fatalf("after %s the old key is %s, want %s", step.path, k.State, step.state)
				}
			}
		}
	})

	t.Run("audit filters", func(t *testing.T) {
		events := regexp.MustCompile(`<tr data-event="([a-z_.]+)">`)
		body := c.get("/console/audit?action=secret.discard").body
		if got := events.FindAllStringSubmatch(body, -1); len(got) != 1 {
			t.Fatalf("filter by action: %v", got)
		}
		body = c.get("/console/audit?actor=system").body
		for _, m := range events.FindAllStringSubmatch(body, -1) {
			if m[1] != "signing_key.activate" && m[1] != "account_key.create" {
				t.Fatalf("filter by actor system lists %s", m[1])
			}
		}
		body = c.get("/console/audit?app=" + other.ClientID).body
		got := events.FindAllStringSubmatch(body, -1)
		var actions []string
		for _, m := range got {
			actions = append(actions, m[1])
		}
		if strings.Join(actions, ",") != "secret.reactivate,secret.discard,secret.create,app.create" {
			t.Fatalf("the app's events, newest first: %v", actions)
		}
	})

	t.Run("token tester refusal", func(t *testing.T) {
		wrong := "sk_live_" + strings.Repeat("Z", 49)
		r := c.post("/console/token", url.Values{"csrf": {token}, "client_id": {other.ClientID}, "client_secret": {wrong}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "invalid_client") || !strings.Contains(r.body, "HTTP 401") {
			t.Fatalf("wrong secret: status %d", r.status)
		}
		assertNoneIn(t, "the token tester's page", r.body, wrong)
	})
}
