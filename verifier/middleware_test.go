package verifier_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier"
)

// serve sends a request with token (if any) through h and returns the
// status, the headers and the decoded body.
func serve(t *testing.T, h http.Handler, token string) (int, http.Header, map[string]string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/resource", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]string
	if rec.Code != http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
	}
	return rec.Code, rec.Header(), body
}

// Every refusal says in error_description, and in the WWW-Authenticate
// challenge (RFC 6750 §3), which check failed, and never repeats the
// token.
func TestMiddlewareNamesTheFailedCheck(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	now := clk.Now()
	k := newRSAKey(t, "k1")
	other := newRSAKey(t, "k1")
	srv := newJWKSServer(t, "max-age=300", k.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := v.Middleware(verifier.MiddlewareOptions{Realm: "api", CredentialScopes: []string{verifier.CredentialScopeApp, verifier.CredentialScopeAppUser}})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.priv.(*rsa.PrivateKey).PublicKey)
	at := func(claims map[string]any) string { return sign(t, jose.RS256, k.priv, "k1", "at+jwt", claims) }
	base := baseClaims(now)
	tests := []struct {
		name, token string
		status      int
		says        string
	}{
		{"expired", at(with(base, "exp", now.Add(-time.Hour).Unix())), 401, "expired"},
		{"not yet valid (nbf)", at(with(base, "nbf", now.Add(time.Hour).Unix())), 401, "not valid yet"},
		{"not yet valid (iat)", at(with(base, "iat", now.Add(time.Hour).Unix())), 401, "not valid yet"},
		{"wrong audience", at(with(base, "aud", "https://other.example")), 401, "audience"},
		{"wrong issuer", at(with(base, "iss", "https://evil.example")), 401, "issuer"},
		{"unknown key", sign(t, jose.RS256, k.priv, "k9", "at+jwt", base), 401, "unknown signing key"},
		{"bad signature", sign(t, jose.RS256, other.priv, "k1", "at+jwt", base), 401, "signature"},
		{"algorithm", sign(t, jose.HS256, pubDER, "k1", "at+jwt", base), 401, "algorithm"},
		{"typ", sign(t, jose.RS256, k.priv, "k1", "JWT", base), 401, "at+jwt"},
		{"missing claim", at(with(base, "jti", nil)), 401, "required claim"},
		{"malformed", "not.a.jwt", 401, "malformed"},
		{"wrong credential scope", at(with(base, "credential_scope", "account")), 403, "credential scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := serve(t, h, tc.token)
			desc, www := body["error_description"], hdr.Get("WWW-Authenticate")
			if hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("X-Content-Type-Options %q", hdr.Get("X-Content-Type-Options"))
			}
			if status != tc.status || !strings.Contains(desc, tc.says) {
				t.Fatalf("%d %v, want %d saying %q", status, body, tc.status, tc.says)
			}
			if !strings.Contains(www, `error_description="`+desc+`"`) {
				t.Fatalf("WWW-Authenticate %q lacks the description %q", www, desc)
			}
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) > 8 && (strings.Contains(desc, part) || strings.Contains(www, part)) {
					t.Fatalf("the answer repeats the token: %q %q", desc, www)
				}
			}
		})
	}
}

// AnyAudience lets the tokens of the credential scopes it names through
// whatever their aud, as an authorization server's own resource (OpenID
// Connect's userinfo) does; every other check still applies, and other
// tokens still need the audience.
func TestMiddlewareAnyAudience(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	now := clk.Now()
	k := newRSAKey(t, "k1")
	srv := newJWKSServer(t, "max-age=300", k.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := v.Middleware(verifier.MiddlewareOptions{AnyAudience: []string{verifier.CredentialScopeAppUser}})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	at := func(claims map[string]any) string { return sign(t, jose.RS256, k.priv, "k1", "at+jwt", claims) }
	elsewhere := with(baseClaims(now), "aud", "https://shop-api.example")
	tests := []struct {
		name, token string
		status      int
	}{
		{"appUser token for another audience", at(elsewhere), 200},
		{"appUser token for no audience", at(with(elsewhere, "aud", nil)), 200},
		{"appUser token for this audience", at(baseClaims(now)), 200},
		{"app token for another audience", at(with(elsewhere, "credential_scope", "app")), 401},
		{"expired appUser token for another audience", at(with(elsewhere, "exp", now.Add(-time.Hour).Unix())), 401},
		{"appUser token of another issuer", at(with(elsewhere, "iss", "https://evil.example")), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if status, _, body := serve(t, h, tc.token); status != tc.status {
				t.Fatalf("%d %v, want %d", status, body, tc.status)
			}
		})
	}
}
