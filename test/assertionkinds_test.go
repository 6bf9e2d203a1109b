package test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signTyped signs claims like signJWT, with typ in the header ("" for none).
func signTyped(t testing.TB, alg jose.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Client assertions and user assertions are kept apart in both directions
// (RFC 7523 §3 item 2): a client assertion (sub = iss = the App ID) buys no
// user token without client authentication, at /customer_authenticate or
// the token endpoint, nor does an assertion explicitly typed as one
// (client-authentication+jwt); a user assertion (sub = the user)
// authenticates no client. A refusal does not use the assertion up: it
// still works as what it is.
func TestAssertionKindsApart(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop")
	k := newAppKey(t, jose.RS256, "k1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
	asUser := func(path, assertion string) response {
		form := url.Values{"assertion": {assertion}}
		if path == "/oauth2/token" {
			form.Set("grant_type", jwtBearer)
		}
		return postFormTo(t, in.PublicURL+path, form, nil)
	}
	for _, tc := range []struct {
		name string
		typ  string
		sub  string
	}{
		{"client assertion, no typ", "", app.ClientID},
		{"client assertion, typ JWT", "JWT", app.ClientID},
		{"client assertion, typ client-authentication+jwt", "client-authentication+jwt", app.ClientID},
		{"typ client-authentication+jwt naming a user", "client-authentication+jwt", "user-1"},
		{"typ application/Client-Authentication+JWT naming a user", "application/Client-Authentication+JWT", "user-1"},
	} {
		for _, path := range []string{"/customer_authenticate", "/oauth2/token"} {
			t.Run(tc.name+" at "+path, func(t *testing.T) {
				claims := assertionClaims(in, app.ClientID, tc.sub)
				assertion := signTyped(t, jose.RS256, k.priv, "k1", tc.typ, claims)
				if r := asUser(path, assertion); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
					t.Fatalf("as a user assertion: %d %v, want 400 invalid_grant", r.status, r.body)
				}
				if tc.sub != app.ClientID {
					return
				}
				if r := clientCredentials(t, in, assertion, nil, nil); r.status != http.StatusOK {
					t.Fatalf("then as the client assertion it is: %d %v", r.status, r.body)
				}
			})
		}
	}

	t.Run("user assertion as a client assertion", func(t *testing.T) {
		assertion := signJWT(t, jose.RS256, k.priv, "k1", assertionClaims(in, app.ClientID, "user-1"))
		for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/customer_authenticate"} {
			form := url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {assertion},
				"grant_type": {"client_credentials"}, "token": {"not-a-token"}}
			if path == "/customer_authenticate" {
				form = url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}, "customer_id": {"user-1"}}
			}
			if r := postFormTo(t, in.PublicURL+path, form, nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
				t.Errorf("at %s: %d %v, want 401 invalid_client", path, r.status, r.body)
			}
		}
		if r := exchange(t, in, assertion, nil); r.status != http.StatusOK {
			t.Fatalf("then as the user assertion it is: %d %v", r.status, r.body)
		}
	})
}
