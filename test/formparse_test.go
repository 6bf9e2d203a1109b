package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// malformedForm is the start of the error_description of a form body
// that does not decode.
const malformedForm = "malformed application/x-www-form-urlencoded body"

// A form body that does not decode as application/x-www-form-urlencoded
// (a '%' not followed by two hex digits, a ';' separator) is refused with
// 400 invalid_request at every form endpoint, before anything else: no
// parameter of it is half-read (a scope dropped would widen the token to
// every scope of the app), and the store is exactly as it was.
func TestMalformedFormBodies(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := in.CreateApp(t, map[string]any{"name": "forms", "scopes": []string{"read", "write"}})
	testApp := createTestApp(t, in, "forms test")
	createUser(t, in, testApp.ClientID, "alice", "password-alice", "")
	auth := basic(app.ClientID, app.ClientSecret)
	tok := token(t, in, app)
	login := "client_id=" + testApp.ClientID + "&username=alice&password=password-alice"

	type bad struct{ name, path, body, authorization string }
	var cases []bad
	for _, path := range []string{"/oauth2/token", "/access_token"} {
		for _, c := range []struct{ name, body string }{
			{"scope with a bad escape", "grant_type=client_credentials&scope=read%zz"},
			{"scope only a bad escape", "grant_type=client_credentials&scope=%zz"},
			{"grant_type with a bad escape", "grant_type=client_credentials%zz"},
			{"extra parameter with a bad escape", "grant_type=client_credentials&x=%zz"},
			{"bad escape in a name", "grant_type=client_credentials&sc%zzope=read"},
			{"truncated escape", "grant_type=client_credentials&scope=read%2"},
			{"lone percent", "grant_type=client_credentials&scope=read%"},
			{"semicolon separator", "grant_type=client_credentials&scope=read;x=y"},
		} {
			cases = append(cases, bad{path + " " + c.name, path, c.body, auth})
		}
	}
	cases = append(cases,
		bad{"introspection extra parameter", "/oauth2/introspect", "token=" + tok + "&x=%zz", auth},
		bad{"introspection token", "/oauth2/introspect", "token=" + tok + "%zz", auth},
		bad{"revocation extra parameter", "/oauth2/revoke", "token=" + tok + "&x=%zz", auth},
		bad{"revocation semicolon", "/oauth2/revoke", "token=" + tok + ";x", auth},
		bad{"delegated extra parameter", "/customer_authenticate", "customer_id=user-1&x=%zz", auth},
		bad{"delegated customer_id", "/customer_authenticate", "customer_id=user%zz", auth},
		bad{"delegated grant_type", "/customer_authenticate", "grant_type=urn%3Aauthserver%3Aparams%3Aoauth%3Agrant-type%3Adelegated%zz&customer_id=user-1", auth},
		bad{"test-user login extra parameter", "/customer_authenticate", login + "&x=%zz", ""},
		bad{"test-user login response_mode", "/customer_authenticate", login + "&response_mode=cookie%zz", ""},
	)

	before := in.DumpStore(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := postRaw(t, in.PublicURL+c.path, "application/x-www-form-urlencoded", c.body, c.authorization)
			desc, _ := body["error_description"].(string)
			if status != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(desc, malformedForm) {
				t.Fatalf("%d %v, want 400 invalid_request %q", status, body, malformedForm)
			}
			if _, ok := body["access_token"]; ok {
				t.Fatal("a token for a malformed body")
			}
		})
	}
	assertStoreUnchanged(t, in, before)
	if !active(t, in, app, tok) {
		t.Fatal("a malformed revocation request revoked the token")
	}

	// The same well-formed requests are served, so what was refused above
	// was the encoding alone.
	for _, c := range []struct{ path, body, authorization string }{
		{"/oauth2/token", "grant_type=client_credentials&scope=read", auth},
		{"/access_token", "grant_type=client_credentials&x=%25zz", auth},
		{"/oauth2/introspect", "token=" + tok + "&x=%25zz", auth},
		{"/customer_authenticate", "customer_id=user-1&x=%25zz", auth},
		{"/customer_authenticate", login + "&x=%25zz", ""},
	} {
		if status, body, _ := postRaw(t, in.PublicURL+c.path, "application/x-www-form-urlencoded", c.body, c.authorization); status != http.StatusOK {
			t.Fatalf("%s %s: %d %v", c.path, c.body, status, body)
		}
	}
	if status, body, _ := postRaw(t, in.PublicURL+"/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=read", auth); status != http.StatusOK || body["scope"] != "read" {
		t.Fatalf("scope=read: %d %v", status, body)
	}
}

// A JSON body at /customer_authenticate gets the answer it gets at the
// token endpoint: 400 invalid_request saying the body must be a form.
func TestCustomerAuthenticateJSONBody(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := in.CreateApp(t, map[string]any{"name": "json", "scopes": []string{"read"}})
	auth := basic(app.ClientID, app.ClientSecret)
	_, want, _ := postRaw(t, in.PublicURL+"/oauth2/token", "application/json", `{"grant_type":"client_credentials"}`, auth)
	if want["error"] != "invalid_request" {
		t.Fatalf("token endpoint: %v", want)
	}
	before := in.DumpStore(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "text/plain", ""} {
		status, body, _ := postRaw(t, in.PublicURL+"/customer_authenticate", ct, `{"customer_id":"user-1"}`, auth)
		if status != http.StatusBadRequest || body["error"] != "invalid_request" || body["error_description"] != want["error_description"] {
			t.Fatalf("%q: %d %v, want 400 %v", ct, status, body, want)
		}
	}
	assertStoreUnchanged(t, in, before)
	// The same request as a form is served.
	if status, body, _ := postForm(t, in.PublicURL+"/customer_authenticate", url.Values{"customer_id": {"user-1"}}, auth); status != http.StatusOK {
		t.Fatalf("form: %d %v", status, body)
	}
}
