package test

import (
	"crypto"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

// thumbprint is the RFC 7638 SHA-256 thumbprint of k, base64url.
func thumbprint(t testing.TB, k appKey) string {
	t.Helper()
	sum, err := k.pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// A token obtained with an assertion signed by a registered key records
// that key (assertion_key, its RFC 7638 thumbprint) and is inactive at
// introspection once the app no longer registers the key, as a token of a
// discarded secret is: client credentials and delegated logins
// authenticated by private_key_jwt, and secure-mode user tokens. Another
// key's tokens stay active; registering the key again brings its tokens
// back. A key at a jwks_uri backs its tokens while the app keeps a
// jwks_uri (introspection does not fetch), and not once it drops it.
func TestAssertionKeyRemovalEndsItsTokens(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	isActive := func(t *testing.T, tok string) bool {
		t.Helper()
		status, body := introspect(t, in, rs, tok)
		if status != http.StatusOK {
			t.Fatalf("introspect: %d %v", status, body)
		}
		return body["active"] == true
	}
	clientToken := func(t *testing.T, app testserver.App, k appKey) string {
		t.Helper()
		r := clientCredentials(t, in, signJWT(t, k.alg, k.priv, k.pub.KeyID, clientAssertionClaims(in, app.ClientID)), nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("private_key_jwt: %d %v", r.status, r.body)
		}
		return r.str("access_token")
	}
	delegatedToken := func(t *testing.T, app testserver.App, k appKey) string {
		t.Helper()
		r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{
			"customer_id": {"user-1"}, "client_assertion_type": {clientAssertionType},
			"client_assertion": {signJWT(t, k.alg, k.priv, k.pub.KeyID, clientAssertionClaims(in, app.ClientID))},
		}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("delegated: %d %v", r.status, r.body)
		}
		return r.str("access_token")
	}
	userToken := func(t *testing.T, app testserver.App, k appKey) string {
		t.Helper()
		r := exchange(t, in, signJWT(t, k.alg, k.priv, k.pub.KeyID, assertionClaims(in, app.ClientID, "user-1")), nil)
		if r.status != http.StatusOK {
			t.Fatalf("secure mode: %d %v", r.status, r.body)
		}
		return r.str("access_token")
	}
	for _, tc := range []struct {
		name  string
		token func(t *testing.T, app testserver.App, k appKey) string
	}{
		{"client credentials by private_key_jwt", clientToken},
		{"delegated login by private_key_jwt", delegatedToken},
		{"secure mode", userToken},
	} {
		t.Run(tc.name+", inline JWKS", func(t *testing.T) {
			app := createTestApp(t, in, tc.name)
			k1, k2 := newAppKey(t, jose.ES256, "k1"), newAppKey(t, jose.RS256, "k2")
			setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k1, k2)})
			tok1, tok2 := tc.token(t, app, k1), tc.token(t, app, k2)
			if !isActive(t, tok1) || !isActive(t, tok2) {
				t.Fatal("fresh tokens are not active")
			}
			setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k2)})
			if isActive(t, tok1) {
				t.Fatal("the token of a removed key is still active")
			}
			if !isActive(t, tok2) {
				t.Fatal("the token of the remaining key is no longer active")
			}
			setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k1, k2)})
			if !isActive(t, tok1) {
				t.Fatal("the token of a key registered again is not active")
			}
			setAssertionKeys(t, in, app.ClientID, map[string]any{})
			if isActive(t, tok1) || isActive(t, tok2) {
				t.Fatal("tokens active after every key was removed")
			}
			if got := mustClaim(t, tok1, "assertion_key"); got != thumbprint(t, k1) {
				t.Fatalf("assertion_key %v, want the thumbprint of k1 %s", got, thumbprint(t, k1))
			}
		})
	}
	t.Run("jwks_uri", func(t *testing.T) {
		app := createTestApp(t, in, "jwks_uri")
		k1, k2 := newAppKey(t, jose.ES256, "k1"), newAppKey(t, jose.ES256, "k2")
		host := newJWKSHost(t, k1)
		setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks_uri": host.URL + "/jwks.json"})
		tok := clientToken(t, app, k1)
		host.set(k2)
		if !isActive(t, tok) {
			t.Fatal("a jwks_uri key's token is inactive while the app keeps its jwks_uri")
		}
		setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k2)})
		if isActive(t, tok) {
			t.Fatal("a jwks_uri key's token is active after the app replaced its jwks_uri by keys without it")
		}
		if got := mustClaim(t, tok, "assertion_key"); got != thumbprint(t, k1) {
			t.Fatalf("assertion_key %v, want %s", got, thumbprint(t, k1))
		}
	})
}
