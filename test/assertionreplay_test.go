package test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

// assertionEndpoint is one endpoint that authenticates clients by
// client_assertion, and the request that uses one there.
type assertionEndpoint struct {
	name string
	use  func(t testing.TB, in *testserver.Instance, assertion string, extra url.Values) response
}

// clientAssertionEndpoints are every endpoint that takes a client
// assertion: each request succeeds on a fresh assertion.
func clientAssertionEndpoints() []assertionEndpoint {
	post := func(path string, form url.Values) func(testing.TB, *testserver.Instance, string, url.Values) response {
		return func(t testing.TB, in *testserver.Instance, assertion string, extra url.Values) response {
			f := url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}}
			for k, v := range form {
				f[k] = v
			}
			for k, v := range extra {
				f[k] = v
			}
			return postFormTo(t, in.PublicURL+path, f, nil)
		}
	}
	return []assertionEndpoint{
		{"token", post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}})},
		{"introspection", post("/oauth2/introspect", url.Values{"token": {"not-a-token"}})},
		{"revocation", post("/oauth2/revoke", url.Values{"token": {"not-a-token"}})},
		{"customer_authenticate", post("/customer_authenticate", url.Values{"customer_id": {"user-1"}})},
	}
}

// A client assertion works once, whichever endpoint it authenticates at
// (RFC 7523 §3 item 7): used at introspection, revocation, the token
// endpoint or /customer_authenticate, it is refused at every one of them
// afterwards. A request refused before the client is authenticated does
// not use it up; one refused after it (a scope the app may not have) does.
func TestClientAssertionReplayAcrossEndpoints(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "backend")
	k := newAppKey(t, jose.ES256, "ec-1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
	secretID, secret := signingSecret(t, in, app.ClientID)
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k), "secret_signing": true})
	fresh := func() string { return signJWT(t, jose.ES256, k.priv, "ec-1", clientAssertionClaims(in, app.ClientID)) }
	methods := []struct {
		name string
		sign func() string
	}{
		{"private_key_jwt", fresh},
		{"client_secret_jwt", func() string {
			return signJWT(t, jose.HS256, []byte(secret), secretID, clientAssertionClaims(in, app.ClientID))
		}},
	}
	endpoints := clientAssertionEndpoints()
	for _, m := range methods {
		for _, first := range endpoints {
			t.Run(m.name+" used at "+first.name, func(t *testing.T) {
				assertion := m.sign()
				if r := first.use(t, in, assertion, nil); r.status != http.StatusOK {
					t.Fatalf("first use: %d %v", r.status, r.body)
				}
				for _, then := range endpoints {
					r := then.use(t, in, assertion, nil)
					if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
						t.Errorf("then at %s: %d %v, want 401 invalid_client", then.name, r.status, r.body)
					}
				}
			})
		}
	}

	// Refused before authentication completes: not used up.
	for _, tc := range []struct {
		name  string
		at    assertionEndpoint
		extra url.Values
	}{
		{"client_id of another app", endpoints[1], url.Values{"client_id": {"app_test_0000000000000000000000"}}},
		{"repeated parameter", endpoints[0], url.Values{"scope": {"profile", "profile"}}},
		{"unknown assertion type", endpoints[2], url.Values{"client_assertion_type": {"urn:example:saml"}}},
	} {
		t.Run("refused before authentication: "+tc.name, func(t *testing.T) {
			assertion := fresh()
			if r := tc.at.use(t, in, assertion, tc.extra); r.status/100 != 4 {
				t.Fatalf("refused request: %d %v", r.status, r.body)
			}
			if r := endpoints[1].use(t, in, assertion, nil); r.status != http.StatusOK {
				t.Fatalf("then at introspection: %d %v", r.status, r.body)
			}
		})
	}
	t.Run("refused after authentication", func(t *testing.T) {
		assertion := fresh()
		if r := endpoints[0].use(t, in, assertion, url.Values{"scope": {"admin"}}); r.status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
			t.Fatalf("disallowed scope: %d %v", r.status, r.body)
		}
		if r := endpoints[0].use(t, in, assertion, nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Fatalf("then at the token endpoint: %d %v", r.status, r.body)
		}
	})
}
