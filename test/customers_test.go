package test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

const shopOrigin = "https://shop.example"

// Test-harness login: one request with a test user's username and password
// gives that user's appUser token; the sub is opaque, stable, and equal to
// what the delegated mode gives for the same customer id.
func TestTestUserLogin(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop", shopOrigin)
	const password = "correct horse battery"
	sub := createUser(t, in, app.ClientID, "alice", password, "cust-alice-77")
	caURL := in.PublicURL + "/customer_authenticate"

	r := postFormTo(t, caURL, url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {password}}, nil)
	if r.status != http.StatusOK || r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(900) {
		t.Fatalf("login: %d %v", r.status, r.body)
	}
	tok := r.str("access_token")
	c := userClaims(t, in, tok, app.ClientID)
	if c.Subject != sub || c.Scope != "profile" {
		t.Fatalf("sub %q scope %q, want %q and profile", c.Subject, c.Scope, sub)
	}
	if got := c.Expiry.Time().Sub(c.IssuedAt.Time()); got != 15*time.Minute {
		t.Fatalf("lifetime %v, want the 15m default", got)
	}
	for _, raw := range []string{"alice", "cust-alice-77"} {
		if payloadContains(t, tok, raw) {
			t.Fatalf("the token carries the raw %q", raw)
		}
	}
	// An explicit grant_type works the same; the sub does not change.
	r = postFormTo(t, caURL, url.Values{
		"grant_type": {"urn:authserver:params:oauth:grant-type:test-user"},
		"client_id":  {app.ClientID}, "username": {"alice"}, "password": {password},
	}, nil)
	if r.status != http.StatusOK || userClaims(t, in, r.str("access_token"), app.ClientID).Subject != sub {
		t.Fatalf("explicit grant: %d %v", r.status, r.body)
	}
	// The delegated mode with the same customer id gives the same sub.
	r = postFormTo(t, caURL, url.Values{"customer_id": {"cust-alice-77"}}, map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)})
	if r.status != http.StatusOK || userClaims(t, in, r.str("access_token"), app.ClientID).Subject != sub {
		t.Fatalf("delegated: %d %v", r.status, r.body)
	}

	other := createTestApp(t, in, "other")
	createUser(t, in, other.ClientID, "bob", "bob's password", "")
	if err := in.Server.Usage.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := in.DumpStore(t)
	tests := []struct {
		name   string
		form   url.Values
		header map[string]string
		status int
		code   string
	}{
		{"wrong password", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"wrong password"}}, nil, 400, "invalid_grant"},
		{"unknown user", url.Values{"client_id": {app.ClientID}, "username": {"mallory"}, "password": {password}}, nil, 400, "invalid_grant"},
		{"user of another app", url.Values{"client_id": {app.ClientID}, "username": {"bob"}, "password": {"bob's password"}}, nil, 400, "invalid_grant"},
		{"unknown app", url.Values{"client_id": {"app_test_0000000000000000000000"}, "username": {"alice"}, "password": {password}}, nil, 401, "invalid_client"},
		{"no client_id", url.Values{"username": {"alice"}, "password": {password}}, nil, 400, "invalid_request"},
		{"no password", url.Values{"client_id": {app.ClientID}, "username": {"alice"}}, nil, 400, "invalid_request"},
		{"repeated username", url.Values{"client_id": {app.ClientID}, "username": {"bob", "alice"}, "password": {password}}, nil, 400, "invalid_request"},
		{"wrong app secret sent along", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {password}},
			map[string]string{"Authorization": basic(app.ClientID, other.ClientSecret)}, 401, "invalid_client"},
		{"origin the app does not allow", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {password}},
			map[string]string{"Origin": "https://evil.example"}, 400, "invalid_request"},
		{"scope the app may not have", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {password}, "scope": {"admin"}}, nil, 400, "invalid_scope"},
		{"unknown response_mode", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {password}, "response_mode": {"fragment"}}, nil, 400, "invalid_request"},
		{"unknown grant", url.Values{"grant_type": {"client_credentials"}}, map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}, 400, "unsupported_grant_type"},
		{"nothing to infer a grant from", url.Values{"client_id": {app.ClientID}}, nil, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := postFormTo(t, caURL, tc.form, tc.header)
			if r.status != tc.status || r.str("error") != tc.code {
				t.Fatalf("got %d %v, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if _, ok := r.body["access_token"]; ok {
				t.Fatal("an error response carries a token")
			}
		})
	}
	unchanged(t, in, before)
	for _, secret := range []string{password, "wrong password", "bob's password", app.ClientSecret} {
		if strings.Contains(in.Logs.String(), secret) {
			t.Fatalf("a password or secret is in the log")
		}
	}
}

// Test users: admin API rules (test apps only, unique usernames, no
// password ever shown), listing and deletion.
func TestTestUserAdmin(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop")
	live := in.CreateApp(t, map[string]any{"name": "live"})
	path := "/admin/v1/apps/" + app.ClientID + "/users"
	var created map[string]any
	if s := in.Admin(t, "", http.MethodPost, path, map[string]any{"username": "alice", "password": "password-1"}, &created); s != http.StatusCreated {
		t.Fatalf("create: %d", s)
	}
	for k := range created {
		if strings.Contains(strings.ToLower(k), "password") {
			t.Fatalf("the created user shows %q", k)
		}
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		status     int
		code       string
	}{
		{"live app", "/admin/v1/apps/" + live.ClientID + "/users", map[string]any{"username": "a", "password": "password-1"}, 409, "live_app"},
		{"duplicate", path, map[string]any{"username": "alice", "password": "password-2"}, 409, "duplicate"},
		{"short password", path, map[string]any{"username": "bob", "password": "short"}, 400, "invalid_password"},
		{"bad username", path, map[string]any{"username": "bob smith", "password": "password-1"}, 400, "invalid_username"},
		{"unknown app", "/admin/v1/apps/app_test_0000000000000000000000/users", map[string]any{"username": "c", "password": "password-1"}, 404, "not_found"},
	} {
		e.Error.Code = ""
		if s := in.Admin(t, "", http.MethodPost, tc.path, tc.body, &e); s != tc.status || e.Error.Code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, s, e.Error.Code, tc.status, tc.code)
		}
	}
	createUser(t, in, app.ClientID, "bob", "password-2", "")
	var page struct {
		Items []map[string]any `json:"items"`
		Next  string           `json:"next_after"`
	}
	in.Admin(t, "", http.MethodGet, path+"?limit=1", nil, &page)
	if len(page.Items) != 1 || page.Items[0]["username"] != "alice" || page.Next != "alice" {
		t.Fatalf("first page %+v", page)
	}
	if s := in.Admin(t, "", http.MethodDelete, path+"/alice", nil, nil); s != http.StatusNoContent {
		t.Fatalf("delete: %d", s)
	}
	if s := in.Admin(t, "", http.MethodDelete, path+"/alice", nil, nil); s != http.StatusNotFound {
		t.Fatalf("delete again: %d", s)
	}
	r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-1"}}, nil)
	if r.status != 400 || r.str("error") != "invalid_grant" {
		t.Fatalf("login of a deleted user: %d %v", r.status, r.body)
	}
}

// Delegated login: the app backend, authenticated with its secret, names
// its user. The sub is per app, stable across restarts, and the raw id
// never appears; a browser can never use the app credential.
func TestDelegatedLogin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testserver.Config(dir)
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	first := testserver.StartWith(t, cfg, testserver.NewClock(), issuer)
	a := first.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"profile"}, "user_token_lifetime": "5m"})
	b := first.CreateApp(t, map[string]any{"name": "b", "scopes": []string{"profile"}})
	delegated := func(in *testserver.Instance, app testserver.App, customerID string, header map[string]string) response {
		h := map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}
		for k, v := range header {
			h[k] = v
		}
		return postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"customer_id": {customerID}}, h)
	}
	claims := func(in *testserver.Instance, r response) accessClaims {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("delegated: %d %v", r.status, r.body)
		}
		c, _, err := verifyToken(r.str("access_token"), fetchJWKS(t, in.PublicURL), "http://issuer.test", "http://issuer.test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c.CredentialScope != "appUser" || payloadContains(t, r.str("access_token"), "user@example.com") {
			t.Fatalf("claims %+v", c)
		}
		return c
	}
	ra := delegated(first, a, "user@example.com", nil)
	subA := claims(first, ra).Subject
	if got := claims(first, ra); got.SecretID != a.SecretID || got.Expiry.Time().Sub(got.IssuedAt.Time()) != 5*time.Minute {
		t.Fatalf("secret_id %q lifetime %v, want %q and the app's 5m", got.SecretID, got.Expiry.Time().Sub(got.IssuedAt.Time()), a.SecretID)
	}
	if again := claims(first, delegated(first, a, "user@example.com", nil)).Subject; again != subA {
		t.Fatal("the same user got another sub")
	}
	subB := claims(first, delegated(first, b, "user@example.com", nil)).Subject
	if subB == subA {
		t.Fatal("two apps got the same sub for one user id")
	}
	if other := claims(first, delegated(first, a, "user2@example.com", nil)).Subject; other == subA {
		t.Fatal("two users got the same sub")
	}
	// A browser cannot use the app credential; no client auth is invalid_client.
	if r := delegated(first, a, "u", map[string]string{"Origin": shopOrigin}); r.status != 400 || r.str("error") != "invalid_request" ||
		r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("from a browser: %d %v %v", r.status, r.body, r.header)
	}
	if r := postFormTo(t, first.PublicURL+"/customer_authenticate", url.Values{"customer_id": {"u"}, "client_id": {a.ClientID}}, nil); r.status != 401 || r.str("error") != "invalid_client" {
		t.Fatalf("without client auth: %d %v", r.status, r.body)
	}
	if r := delegated(first, a, "bad\x00id", nil); r.status != 400 || r.str("error") != "invalid_request" {
		t.Fatalf("control character in customer_id: %d %v", r.status, r.body)
	}
	first.Stop(t)

	second := testserver.StartWith(t, testserver.Config(dir), testserver.NewClock(), issuer)
	if got := claims(second, delegated(second, a, "user@example.com", nil)).Subject; got != subA {
		t.Fatalf("sub changed across a restart: %q, was %q", got, subA)
	}
}

// Cookie mode: the token comes as an HttpOnly cookie, usable at the
// reference resource, with credentials allowed only for the app's origins.
func TestCookieMode(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop", shopOrigin)
	createUser(t, in, app.ClientID, "alice", "password-1", "")
	form := url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-1"}, "response_mode": {"cookie"}}
	r := postFormTo(t, in.PublicURL+"/customer_authenticate", form, map[string]string{"Origin": shopOrigin})
	if r.status != http.StatusOK {
		t.Fatalf("cookie mode: %d %v", r.status, r.body)
	}
	if _, ok := r.body["access_token"]; ok || r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(900) {
		t.Fatalf("body %v", r.body)
	}
	if r.header.Get("Access-Control-Allow-Origin") != shopOrigin || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers %v", r.header)
	}
	if len(r.cookie) != 1 {
		t.Fatalf("cookies %v", r.cookie)
	}
	ck := r.cookie[0]
	raw := r.header.Get("Set-Cookie")
	if ck.Name != "authserver_token" || !ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != 900 || ck.Path != "/" ||
		!strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
		t.Fatalf("cookie %q", raw)
	}
	c := userClaims(t, in, ck.Value, app.ClientID)
	// The cookie authenticates at the reference resource.
	p := do(t, http.MethodPost, in.PublicURL+"/getprofile", nil, map[string]string{"Cookie": ck.Name + "=" + ck.Value, "X-API-Key": app.ClientID})
	if p.status != http.StatusOK || p.str("customer") != c.Subject || p.str("username") != "alice" {
		t.Fatalf("profile with the cookie: %d %v", p.status, p.body)
	}
	// From an origin the app does not allow: refused, no cookie, no CORS.
	r = postFormTo(t, in.PublicURL+"/customer_authenticate", form, map[string]string{"Origin": "https://evil.example"})
	if r.status != 400 || len(r.cookie) != 0 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("disallowed origin: %d %v %v", r.status, r.body, r.header)
	}
}

// Behind an https issuer the cookie is Secure and __Host- prefixed.
func TestCookieModeSecure(t *testing.T) {
	t.Parallel()
	in := startUsers(t, func(c *server.Config) { c.Issuer = "https://auth.example" })
	app := createTestApp(t, in, "shop")
	createUser(t, in, app.ClientID, "alice", "password-1", "")
	r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{
		"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-1"}, "response_mode": {"cookie"},
	}, nil)
	if r.status != http.StatusOK || len(r.cookie) != 1 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	if ck := r.cookie[0]; ck.Name != "__Host-authserver_token" || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("cookie %q", r.header.Get("Set-Cookie"))
	}
}

// An app with no scopes gets user tokens with no "scope" claim and token
// responses with no "scope" member, not an empty string.
func TestNoEmptyScope(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := in.CreateApp(t, map[string]any{"name": "no scopes", "environment": "test"})
	createUser(t, in, app.ClientID, "alice", "password-a", "")
	for name, r := range map[string]response{
		"test-user login": postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-a"}}, nil),
		"delegated":       postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"customer_id": {"u-1"}}, map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}),
		"client credentials": postFormTo(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
			map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}),
	} {
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %v", name, r.status, r.body)
		}
		if _, ok := r.body["scope"]; ok {
			t.Errorf("%s: response has scope %q", name, r.body["scope"])
		}
		var claims map[string]any
		if err := json.Unmarshal(mustB64(t, strings.Split(r.str("access_token"), ".")[1]), &claims); err != nil {
			t.Fatal(err)
		}
		if _, ok := claims["scope"]; ok {
			t.Errorf("%s: token has scope %q", name, claims["scope"])
		}
	}
}
