package test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

const api = "https://api.example.com"

// The acceptance path: register an app, get a token with a standard
// OAuth 2.0 client, verify it against the JWKS with go-jose, for every
// signing algorithm and both secret-based authentication methods.
func TestClientCredentialsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			in := testserver.Start(t, func(c *server.Config) { c.Tokens.Algorithm = alg })
			app := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read", "write"}, "audiences": []string{api}})
			for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
				cc := clientcredentials.Config{
					ClientID: app.ClientID, ClientSecret: app.ClientSecret,
					TokenURL: in.PublicURL + "/oauth2/token", Scopes: []string{"read"},
					EndpointParams: url.Values{"audience": {api}}, AuthStyle: style,
				}
				tok, err := cc.Token(context.Background())
				if err != nil {
					t.Fatalf("auth style %v: token: %v", style, err)
				}
				if tok.TokenType != "Bearer" || tok.Extra("scope") != "read" {
					t.Fatalf("token_type %q scope %v", tok.TokenType, tok.Extra("scope"))
				}
				if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
					t.Fatalf("expires in %v, want 1h", d)
				}
				claims, hdr, err := verifyToken(tok.AccessToken, fetchJWKS(t, in.PublicURL), in.PublicURL, api, time.Now())
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if hdr.Algorithm != alg {
					t.Fatalf("alg %s, want %s", hdr.Algorithm, alg)
				}
				if claims.Subject != app.ClientID || claims.ClientID != app.ClientID || claims.Scope != "read" ||
					claims.ID == "" || claims.IssuedAt == nil || claims.CredentialScope != "app" || claims.SecretID != app.SecretID {
					t.Fatalf("claims %+v", claims)
				}
				if got := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); got != time.Hour {
					t.Fatalf("exp - iat = %v, want 1h", got)
				}
			}
		})
	}
}

// The same handler answers at /access_token (seed 001), and scope and
// audience default to everything the app may have.
func TestAccessTokenAliasAndDefaults(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read", "write"}, "audiences": []string{api, "https://other.example"}})
	status, body, _ := postForm(t, in.PublicURL+"/access_token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
	}, "")
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	claims, _, err := verifyToken(body["access_token"].(string), fetchJWKS(t, in.PublicURL), in.PublicURL, api, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if claims.Scope != "read write" || !reflect.DeepEqual([]string(claims.Audience), []string{api, "https://other.example"}) {
		t.Fatalf("scope %q aud %v", claims.Scope, claims.Audience)
	}
	// An app with no audiences gets the issuer as audience; RFC 8707
	// resource works like audience.
	bare := in.CreateApp(t, map[string]any{"name": "b", "scopes": []string{"read"}})
	_, body, _ = postForm(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basic(bare.ClientID, bare.ClientSecret))
	if _, _, err := verifyToken(body["access_token"].(string), fetchJWKS(t, in.PublicURL), in.PublicURL, in.PublicURL, time.Now()); err != nil {
		t.Fatalf("default audience: %v", err)
	}
	status, body, _ = postForm(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://other.example"}}, basic(app.ClientID, app.ClientSecret))
	if status != http.StatusOK {
		t.Fatalf("resource: status %d %v", status, body)
	}
	if _, _, err := verifyToken(body["access_token"].(string), fetchJWKS(t, in.PublicURL), in.PublicURL, "https://other.example", time.Now()); err != nil {
		t.Fatalf("resource audience: %v", err)
	}
}

// flipLast changes the last character of s.
func flipLast(s string) string {
	last := "x"
	if strings.HasSuffix(s, "x") {
		last = "y"
	}
	return s[:len(s)-1] + last
}

func basic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// postForm posts form to u with an optional Authorization header and
// returns the status, the decoded JSON body and the response headers.
func postForm(t testing.TB, u string, form url.Values, authorization string) (int, map[string]any, http.Header) {
	t.Helper()
	return postRaw(t, u, "application/x-www-form-urlencoded", form.Encode(), authorization)
}

// postRaw posts body as contentType (no Content-Type header if "") to u
// with an optional Authorization header and returns the status, the
// decoded JSON body and the response headers.
func postRaw(t testing.TB, u, contentType, body, authorization string) (int, map[string]any, http.Header) {
	t.Helper()
	header := map[string]string{}
	if contentType != "" {
		header["Content-Type"] = contentType
	}
	if authorization != "" {
		header["Authorization"] = authorization
	}
	r := do(t, http.MethodPost, u, strings.NewReader(body), header)
	return r.status, r.body, r.header
}

// rejection is a request an endpoint must refuse with an RFC 6749 §5.2
// error, and the status and error code it must answer with.
type rejection struct {
	name          string
	contentType   string // "" for a form
	body          string
	authorization string
	status        int
	code          string
}

// post sends the request to u and fails the test unless the answer has
// the status and error code wanted; it returns the decoded body and the
// headers for the caller's further checks.
func (r rejection) post(t testing.TB, u string) (map[string]any, http.Header) {
	t.Helper()
	ct := r.contentType
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	status, body, hdr := postRaw(t, u, ct, r.body, r.authorization)
	if status != r.status || body["error"] != r.code {
		t.Fatalf("got %d %v, want %d %s", status, body, r.status, r.code)
	}
	return body, hdr
}

// Every bad input gets its RFC 6749 §5.2 error and status, 401s carry
// WWW-Authenticate, an unknown client looks exactly like a wrong secret, and
// the store is unchanged afterwards.
func TestTokenEndpointRejects(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read"}, "audiences": []string{api}})
	other := in.CreateApp(t, map[string]any{"name": "b", "scopes": []string{"read"}})
	tokenURL := in.PublicURL + "/oauth2/token"
	good := basic(app.ClientID, app.ClientSecret)
	cc := "grant_type=client_credentials"
	tests := []rejection{
		{"wrong secret", "", cc, basic(app.ClientID, other.ClientSecret), 401, "invalid_client"},
		{"secret of another app", "", cc, basic(other.ClientID, app.ClientSecret), 401, "invalid_client"},
		{"unknown client", "", cc, basic("app_live_0000000000000000000000", app.ClientSecret), 401, "invalid_client"},
		{"garbage client id", "", cc, basic("'; drop table apps; --", app.ClientSecret), 401, "invalid_client"},
		{"missing credentials", "", cc, "", 401, "invalid_client"},
		{"client id without secret", "", cc + "&client_id=" + app.ClientID, "", 401, "invalid_client"},
		{"empty secret", "", cc + "&client_id=" + app.ClientID + "&client_secret=", "", 401, "invalid_client"},
		{"secret with a bad checksum", "", cc, basic(app.ClientID, flipLast(app.ClientSecret)), 401, "invalid_client"},
		{"unsupported grant", "", "grant_type=password&username=u&password=p", good, 400, "unsupported_grant_type"},
		{"unknown grant", "", "grant_type=urn:example:nope", good, 400, "unsupported_grant_type"},
		{"two grant types", "", "grant_type=client_credentials+password", good, 400, "unsupported_grant_type"},
		{"unsupported grant, bad client", "", "grant_type=password", basic(app.ClientID, other.ClientSecret), 401, "invalid_client"},
		{"missing grant_type", "", "scope=read", good, 400, "invalid_request"},
		{"scope beyond the allowed", "", cc + "&scope=read+admin", good, 400, "invalid_scope"},
		{"scope with odd characters", "", cc + "&scope=r%C3%A9ad", good, 400, "invalid_scope"},
		{"audience not allowed", "", cc + "&audience=https://evil.example", good, 400, "invalid_target"},
		{"resource not absolute", "", cc + "&resource=/relative", good, 400, "invalid_target"},
		{"two authentication methods", "", cc + "&client_id=" + app.ClientID + "&client_secret=" + url.QueryEscape(app.ClientSecret), good, 400, "invalid_request"},
		{"repeated grant_type", "", cc + "&" + cc, good, 400, "invalid_request"},
		{"empty body", "", "", good, 400, "invalid_request"},
		{"JSON body", "application/json", `{"grant_type":"client_credentials"}`, good, 400, "invalid_request"},
		{"malformed form", "", "grant_type=%zz", good, 400, "invalid_request"},
		{"body over 64 KiB", "", cc + "&scope=" + strings.Repeat("a", 70<<10), good, 400, "invalid_request"},
	}
	before := in.DumpStore(t)
	var unknownBody, wrongBody map[string]any
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, hdr := tc.post(t, tokenURL)
			if _, ok := body["error_description"].(string); !ok {
				t.Errorf("no error_description: %v", body)
			}
			if tc.status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without WWW-Authenticate: %v", hdr)
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", hdr.Get("Cache-Control"))
			}
			if strings.Contains(strings.ToLower(body["error_description"].(string)), "secret") && tc.status == 401 {
				t.Errorf("401 description names the secret: %q", body["error_description"])
			}
			switch tc.name {
			case "unknown client":
				unknownBody = body
			case "wrong secret":
				wrongBody = body
			}
		})
	}
	if !reflect.DeepEqual(unknownBody, wrongBody) {
		t.Errorf("an unknown client is told apart from a wrong secret:\n%v\n%v", unknownBody, wrongBody)
	}
	// Nothing was written, not even usage bookkeeping.
	assertStoreUnchanged(t, in, before)
	// And the app still works.
	if status, body, _ := postRaw(t, tokenURL, "application/x-www-form-urlencoded", cc, good); status != 200 {
		t.Fatalf("good request after the bad ones: %d %v", status, body)
	}
}

// Issuing tokens writes nothing to the database; last-used bookkeeping is
// one bulk write per flush, whatever the number of tokens.
func TestIssuingTokensWritesNothing(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) { c.Cache.UsageFlushInterval = time.Hour })
	app := in.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read"}})
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: in.PublicURL + "/oauth2/token"}
	if _, err := cc.Token(context.Background()); err != nil { // warm the client cache
		t.Fatal(err)
	}
	writes := in.Monitor.Writes()
	for range 100 {
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := in.Monitor.Writes() - writes; got != 0 {
		t.Fatalf("100 tokens caused %d database writes: %v", got, in.Monitor.Counts())
	}
	if err := in.Server.Usage.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := in.Monitor.Writes() - writes; got != 1 {
		t.Fatalf("flushing usage of 101 tokens took %d writes, want 1", got)
	}
	var view struct {
		Secrets []struct {
			LastUsedAt *time.Time `json:"last_used_at"`
		} `json:"secrets"`
	}
	in.Admin(t, "", http.MethodGet, "/admin/v1/apps/"+app.ClientID, nil, &view)
	if len(view.Secrets) != 1 || view.Secrets[0].LastUsedAt == nil || time.Since(*view.Secrets[0].LastUsedAt) > time.Minute {
		t.Fatalf("last_used_at not recorded: %+v", view)
	}
}

// A server restarted on the same data_dir keeps its apps and signing key:
// a token issued before the restart verifies against the JWKS after it, and
// the secret still works.
func TestRestartKeepsAppsAndKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := testserver.StartWith(t, testserver.Config(dir), testserver.NewClock(), func(c *server.Config) {
		c.Issuer = "http://issuer.test"
	})
	app := first.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read"}})
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: first.PublicURL + "/oauth2/token"}
	before, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jwksBefore := fetchJWKS(t, first.PublicURL)
	first.Stop(t)

	second := testserver.StartWith(t, testserver.Config(dir), testserver.NewClock(), func(c *server.Config) {
		c.Issuer = "http://issuer.test"
	})
	if second.AdminKey != first.AdminKey {
		t.Fatal("the owner key file changed on restart")
	}
	jwksAfter := fetchJWKS(t, second.PublicURL)
	if !reflect.DeepEqual(jwksBefore, jwksAfter) {
		t.Fatalf("JWKS changed across the restart")
	}
	if _, _, err := verifyToken(before.AccessToken, jwksAfter, "http://issuer.test", "http://issuer.test", time.Now()); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
	cc.TokenURL = second.PublicURL + "/oauth2/token"
	if _, err := cc.Token(context.Background()); err != nil {
		t.Fatalf("secret after restart: %v", err)
	}
}

// RFC 8414 metadata names every endpoint, and the JWKS carries only public
// keys with kid, alg and use, a strong ETag and 304 on If-None-Match.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	resp, err := http.Get(in.PublicURL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if md["issuer"] != in.PublicURL || md["token_endpoint"] != in.PublicURL+"/oauth2/token" || md["jwks_uri"] != in.PublicURL+"/.well-known/jwks.json" {
		t.Fatalf("metadata %v", md)
	}
	if !reflect.DeepEqual(md["grant_types_supported"], []any{"client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"}) {
		t.Fatalf("grant_types_supported %v", md["grant_types_supported"])
	}
	methods := md["token_endpoint_auth_methods_supported"].([]any)
	for _, want := range []string{"client_secret_basic", "client_secret_post"} {
		found := false
		for _, m := range methods {
			found = found || m == want
		}
		if !found {
			t.Errorf("token_endpoint_auth_methods_supported lacks %s", want)
		}
	}

	resp, err = http.Get(in.PublicURL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("ETag %q Content-Type %q", etag, resp.Header.Get("Content-Type"))
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", raw, err)
	}
	k := set.Keys[0]
	if k["kid"] == nil || k["alg"] != "RS256" || k["use"] != "sig" || k["kty"] != "RSA" {
		t.Fatalf("key %v", k)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Fatalf("JWKS publishes private parameter %q", private)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, in.PublicURL+"/.well-known/jwks.json", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if status := get(t, in.PublicURL+path).StatusCode; status != http.StatusOK {
			t.Fatalf("%s: %d", path, status)
		}
	}
}
