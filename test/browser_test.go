package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// nodeFetch is what Node 20's fetch (undici 6) adds to a request: Accept,
// Accept-Language "*", User-Agent "node" and Sec-Fetch-Mode "cors", and no
// other Fetch Metadata and no Origin (captured; authserver/browser_test.go
// has the other header sets).
var nodeFetch = map[string]string{"Accept": "*/*", "Accept-Language": "*", "Sec-Fetch-Mode": "cors", "User-Agent": "node"}

// chromeCrossSite is what Chromium 156 adds to a cross-site fetch
// (captured).
var chromeCrossSite = map[string]string{
	"Accept": "*/*", "Accept-Language": "en-US,en;q=0.9", "Origin": "https://shop.example", "Referer": "https://shop.example/",
	"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site",
	"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
}

// An app credential sent with Node's fetch is served at every endpoint
// that takes one (openid-client and oauth4webapi run on it); sent by a
// browser it is refused with invalid_request, writes nothing, and the
// answer carries no CORS header.
func TestAppCredentialsFromNodeFetchNotFromBrowsers(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := in.CreateApp(t, map[string]any{"name": "node backend", "scopes": []string{"read"}})
	auth := basic(app.ClientID, app.ClientSecret)
	with := func(h map[string]string) map[string]string {
		out := map[string]string{"Authorization": auth}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	tok := token(t, in, app)
	type endpoint struct {
		name, path string
		form       url.Values
		ok         func(r response) bool
	}
	endpoints := []endpoint{
		{"token", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, func(r response) bool { return r.str("access_token") != "" }},
		{"token alias", "/access_token", url.Values{"grant_type": {"client_credentials"}}, func(r response) bool { return r.str("access_token") != "" }},
		{"introspection", "/oauth2/introspect", url.Values{"token": {tok}}, func(r response) bool { return r.body["active"] == true }},
		{"delegated customer_authenticate", "/customer_authenticate", url.Values{"customer_id": {"user-42"}}, func(r response) bool { return r.str("access_token") != "" }},
	}
	for _, e := range endpoints {
		t.Run("Node fetch/"+e.name, func(t *testing.T) {
			r := postFormTo(t, in.PublicURL+e.path, e.form, with(nodeFetch))
			if r.status != http.StatusOK || !e.ok(r) {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
	}
	t.Run("Node fetch/revocation", func(t *testing.T) {
		doomed := token(t, in, app)
		if r := postFormTo(t, in.PublicURL+"/oauth2/revoke", url.Values{"token": {doomed}}, with(nodeFetch)); r.status != http.StatusOK {
			t.Fatalf("%d %v", r.status, r.body)
		}
		if active(t, in, app, doomed) {
			t.Fatal("the token revoked with Node's fetch is still active")
		}
	})
	before := in.DumpStore(t)
	for _, e := range append(endpoints, endpoint{"revocation", "/oauth2/revoke", url.Values{"token": {tok}}, nil}) {
		t.Run("Chrome/"+e.name, func(t *testing.T) {
			r := postFormTo(t, in.PublicURL+e.path, e.form, with(chromeCrossSite))
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_request" ||
				!strings.Contains(r.str("error_description"), "browser") || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%d %v %v", r.status, r.body, r.header)
			}
		})
	}
	assertStoreUnchanged(t, in, before)
	if !active(t, in, app, tok) {
		t.Fatal("the browser's revocation revoked the token")
	}
}
