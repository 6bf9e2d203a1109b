package test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signEdJWS builds a compact JWS (RFC 7515 §7.1) signed with Ed25519 under
// the alg name given ("Ed25519", RFC 9864 §2.2, or "EdDSA"), by hand on
// crypto/ed25519, as openid-client 6 and oauth4webapi 3 do: go-jose v4
// signs only under the name "EdDSA", and building the token here keeps the
// test independent of the library the server parses with. The header is
// {alg, kid} with no typ, as those clients send it.
func signEdJWS(t testing.TB, alg string, priv any, kid string, claims map[string]any) string {
	t.Helper()
	key, ok := priv.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("signEdJWS needs an ed25519.PrivateKey, got %T", priv)
	}
	hdr := map[string]string{"alg": alg}
	if kid != "" {
		hdr["kid"] = kid
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(hdr) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
}

// edKey is an Ed25519 app key whose JWK carries jwkAlg ("" for none).
func edKey(t *testing.T, jwkAlg, kid string) appKey {
	k := newAppKey(t, jose.EdDSA, kid)
	k.pub.Algorithm = jwkAlg
	return k
}

// Ed25519 assertions under their RFC 9864 name: private_key_jwt and secure
// mode accept alg "Ed25519" and "EdDSA" alike with an Ed25519 key whose
// JWK names either (or no) alg, inline or at a jwks_uri; a JWK that names
// Ed25519 verifies nothing else, and the metadata lists the name.
func TestEd25519Assertions(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	tests := []struct {
		name     string
		jwkAlg   string
		jwsAlg   string
		jwksURI  bool
		userMode bool
	}{
		{"client, Ed25519 JWS, Ed25519 JWK", "Ed25519", "Ed25519", false, false},
		{"client, Ed25519 JWS, EdDSA JWK", "EdDSA", "Ed25519", false, false},
		{"client, Ed25519 JWS, JWK without alg", "", "Ed25519", false, false},
		{"client, EdDSA JWS, Ed25519 JWK", "Ed25519", "EdDSA", false, false},
		{"client, Ed25519 JWS, Ed25519 JWK at a jwks_uri", "Ed25519", "Ed25519", true, false},
		{"user, Ed25519 JWS, Ed25519 JWK", "Ed25519", "Ed25519", false, true},
		{"user, Ed25519 JWS, EdDSA JWK at a jwks_uri", "EdDSA", "Ed25519", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := createTestApp(t, in, tc.name)
			k := edKey(t, tc.jwkAlg, "ed-1")
			if tc.jwksURI {
				setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks_uri": newJWKSHost(t, k).URL + "/jwks.json"})
			} else {
				setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
			}
			if tc.userMode {
				r := exchange(t, in, signEdJWS(t, tc.jwsAlg, k.priv, "ed-1", assertionClaims(in, app.ClientID, "user-1")), nil)
				if r.status != http.StatusOK {
					t.Fatalf("secure mode: %d %v", r.status, r.body)
				}
				userClaims(t, in, r.str("access_token"), app.ClientID)
				return
			}
			r := clientCredentials(t, in, signEdJWS(t, tc.jwsAlg, k.priv, "ed-1", clientAssertionClaims(in, app.ClientID)), nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("private_key_jwt: %d %v", r.status, r.body)
			}
			c, _, err := verifyToken(r.str("access_token"), fetchJWKS(t, in.PublicURL), in.PublicURL, in.PublicURL, time.Now())
			if err != nil || c.Subject != app.ClientID || c.CredentialScope != "app" {
				t.Fatalf("claims %+v %v", c, err)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		app := createTestApp(t, in, "refused")
		ed := edKey(t, "Ed25519", "ed")
		other := edKey(t, "Ed25519", "ed")
		rsaKey := newAppKey(t, jose.RS256, "rsa")
		// An RSA key that claims alg Ed25519 is refused inline; at a
		// jwks_uri it is only never used (RFC 7517 §5: skip, do not fail).
		rsaAsEd := rsaKey
		rsaAsEd.pub.Algorithm = "Ed25519"
		if s := in.Admin(t, "", http.MethodPut, "/admin/v1/apps/"+app.ClientID+"/assertion-keys",
			map[string]any{"jwks": jwksJSON(t, rsaAsEd)}, nil); s != http.StatusBadRequest {
			t.Fatalf("RSA key with alg Ed25519 registered: status %d", s)
		}
		rsaHost := newJWKSHost(t, rsaAsEd)
		claims := func() map[string]any { return clientAssertionClaims(in, app.ClientID) }
		cases := []struct {
			name      string
			settings  map[string]any
			assertion func() string
		}{
			{"RS256 JWS, key of the kid is an Ed25519 JWK", map[string]any{"jwks": jwksJSON(t, ed, rsaKey)},
				func() string { return signJWT(t, jose.RS256, rsaKey.priv, "ed", claims()) }},
			{"RS256 JWS, RSA JWK with alg Ed25519 at a jwks_uri", map[string]any{"jwks_uri": rsaHost.URL + "/jwks.json"},
				func() string { return signJWT(t, jose.RS256, rsaKey.priv, "rsa", claims()) }},
			{"Ed25519 JWS naming an RSA key", map[string]any{"jwks": jwksJSON(t, ed, rsaKey)},
				func() string { return signEdJWS(t, "Ed25519", ed.priv, "rsa", claims()) }},
			{"Ed25519 JWS by another key with the same kid", map[string]any{"jwks": jwksJSON(t, ed)},
				func() string { return signEdJWS(t, "Ed25519", other.priv, "ed", claims()) }},
			{"Ed448 JWS", map[string]any{"jwks": jwksJSON(t, ed)},
				func() string { return signEdJWS(t, "Ed448", ed.priv, "ed", claims()) }},
			{"ed25519 in lower case", map[string]any{"jwks": jwksJSON(t, ed)},
				func() string { return signEdJWS(t, "ed25519", ed.priv, "ed", claims()) }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				setAssertionKeys(t, in, app.ClientID, tc.settings)
				if r := clientCredentials(t, in, tc.assertion(), nil, nil); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
					t.Fatalf("got %d %v, want 401 invalid_client", r.status, r.body)
				}
			})
		}
	})

	t.Run("metadata", func(t *testing.T) {
		r := do(t, http.MethodGet, in.PublicURL+"/.well-known/oauth-authorization-server", nil, nil)
		for field, v := range r.body {
			list, ok := v.([]any)
			if !ok || !strings.HasSuffix(field, "_signing_alg_values_supported") {
				continue
			}
			if !containsAll(list, "EdDSA", "Ed25519") {
				t.Errorf("%s %v lacks EdDSA or Ed25519", field, list)
			}
		}
		if list, _ := r.body["token_endpoint_auth_signing_alg_values_supported"].([]any); !containsAll(list, "Ed25519") {
			t.Errorf("token_endpoint_auth_signing_alg_values_supported %v lacks Ed25519", list)
		}
	})
}

func containsAll(list []any, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}
