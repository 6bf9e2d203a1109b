package test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// signingSecret opts app into HS256 assertions and creates a secret
// through the admin API: only secrets created after the opt-in are kept
// sealed, so only they can sign. It returns the secret's id and plaintext.
func signingSecret(t *testing.T, in *testserver.Instance, appID string) (id, secret string) {
	t.Helper()
	setAssertionKeys(t, in, appID, map[string]any{"secret_signing": true})
	var created struct {
		ID     string `json:"secret_id"`
		Secret string `json:"client_secret"`
	}
	if s := in.Admin(t, "", http.MethodPost, "/admin/v1/apps/"+appID+"/secrets", nil, &created); s != http.StatusCreated || created.Secret == "" {
		t.Fatalf("create secret: status %d", s)
	}
	var keys struct {
		SigningSecrets []string `json:"signing_secrets"`
	}
	in.Admin(t, "", http.MethodGet, "/admin/v1/apps/"+appID+"/assertion-keys", nil, &keys)
	if !slices.Contains(keys.SigningSecrets, created.ID) {
		t.Fatalf("the secret created after the opt-in is not sealed: %v", keys.SigningSecrets)
	}
	return created.ID, created.Secret
}

// exchange posts an assertion to the token endpoint (JWT bearer grant, no
// client authentication).
func exchange(t testing.TB, in *testserver.Instance, assertion string, header map[string]string) response {
	t.Helper()
	return postFormTo(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {jwtBearer}, "assertion": {assertion}}, header)
}

// delegatedSub is the sub the delegated mode gives customerID of app.
func delegatedSub(t testing.TB, in *testserver.Instance, app testserver.App, customerID string) string {
	t.Helper()
	r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"customer_id": {customerID}}, map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)})
	if r.status != http.StatusOK {
		t.Fatalf("delegated: %d %v", r.status, r.body)
	}
	return userClaims(t, in, r.str("access_token"), app.ClientID).Subject
}

// jwksHost serves a JWK Set on loopback, as an app's jwks_uri.
type jwksHost struct {
	*httptest.Server
	mu   sync.Mutex
	keys []appKey
	hits int
}

func newJWKSHost(t *testing.T, keys ...appKey) *jwksHost {
	h := &jwksHost{keys: keys}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.hits++
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = w.Write(jwksJSON(t, h.keys...))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *jwksHost) set(keys ...appKey) { h.mu.Lock(); h.keys = keys; h.mu.Unlock() }
func (h *jwksHost) count() int         { h.mu.Lock(); defer h.mu.Unlock(); return h.hits }

// Secure mode: the app backend signs a user assertion with its own key
// (RS256 or ES256, inline or at a jwks_uri) or its secret (HS256) and
// exchanges it for that user's appUser token; the sub is the same opaque
// identifier every mode gives the user; an assertion works once; removing
// the key or the secret stops its assertions at once.
func TestSecureMode(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	type setup struct {
		alg    jose.SignatureAlgorithm
		key    any
		kid    string
		revoke func()
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, app testserver.App) setup
	}{
		{"RS256 inline JWKS", func(t *testing.T, app testserver.App) setup {
			k := newAppKey(t, jose.RS256, "rsa-1")
			setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
			return setup{jose.RS256, k.priv, "rsa-1", func() {
				setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, newAppKey(t, jose.RS256, "rsa-2"))})
			}}
		}},
		{"ES256 inline JWKS", func(t *testing.T, app testserver.App) setup {
			k := newAppKey(t, jose.ES256, "ec-1")
			setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
			return setup{jose.ES256, k.priv, "ec-1", func() { setAssertionKeys(t, in, app.ClientID, map[string]any{}) }}
		}},
		{"ES256 at a jwks_uri", func(t *testing.T, app testserver.App) setup {
			k := newAppKey(t, jose.ES256, "ec-uri")
			host := newJWKSHost(t, k)
			settings := map[string]any{"jwks_uri": host.URL + "/jwks.json"}
			setAssertionKeys(t, in, app.ClientID, settings)
			return setup{jose.ES256, k.priv, "ec-uri", func() {
				// The app unpublishes the key and re-saves its settings,
				// which drops the cached copy at once.
				host.set(newAppKey(t, jose.ES256, "ec-new"))
				setAssertionKeys(t, in, app.ClientID, settings)
			}}
		}},
		{"HS256 secret", func(t *testing.T, app testserver.App) setup {
			id, secret := signingSecret(t, in, app.ClientID)
			return setup{jose.HS256, []byte(secret), id, func() {
				if s := in.Admin(t, "", http.MethodPost, "/admin/v1/apps/"+app.ClientID+"/secrets/"+id+"/discard", nil, nil); s != http.StatusOK {
					t.Fatalf("discard: %d", s)
				}
			}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := createTestApp(t, in, tc.name, shopOrigin)
			s := tc.setup(t, app)
			want := delegatedSub(t, in, app, "user-7")

			assertion := signJWT(t, s.alg, s.key, s.kid, assertionClaims(in, app.ClientID, "user-7"))
			r := exchange(t, in, assertion, nil)
			if r.status != http.StatusOK || r.str("token_type") != "Bearer" {
				t.Fatalf("exchange: %d %v", r.status, r.body)
			}
			c := userClaims(t, in, r.str("access_token"), app.ClientID)
			if c.Subject != want || payloadContains(t, r.str("access_token"), "user-7") {
				t.Fatalf("sub %q, want %q (and no raw id)", c.Subject, want)
			}
			if s.alg == jose.HS256 && c.SecretID != s.kid {
				t.Fatalf("secret_id %q, want the signing secret %q", c.SecretID, s.kid)
			}
			if r := exchange(t, in, assertion, nil); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("replay: %d %v", r.status, r.body)
			}
			// aud = the issuer also works, and so does /customer_authenticate
			// (grant inferred from the assertion), from an allowed origin.
			claims := with(assertionClaims(in, app.ClientID, "user-7"), "aud", in.PublicURL)
			r = postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"assertion": {signJWT(t, s.alg, s.key, s.kid, claims)}},
				map[string]string{"Origin": shopOrigin})
			if r.status != http.StatusOK || userClaims(t, in, r.str("access_token"), app.ClientID).Subject != want ||
				r.header.Get("Access-Control-Allow-Origin") != shopOrigin {
				t.Fatalf("customer_authenticate: %d %v %v", r.status, r.body, r.header)
			}
			s.revoke()
			if r := exchange(t, in, signJWT(t, s.alg, s.key, s.kid, assertionClaims(in, app.ClientID, "user-7")), nil); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("after removing the key: %d %v", r.status, r.body)
			}
		})
	}
}

// Every hostile assertion is refused with invalid_grant (RFC 7523 §3.1) and
// leaves the store as it was.
func TestSecureModeRejects(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop")
	other := createTestApp(t, in, "other")
	k := newAppKey(t, jose.RS256, "k1")
	impostor := newAppKey(t, jose.RS256, "k1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
	secretID, _ := signingSecret(t, in, app.ClientID)
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k), "secret_signing": true})
	// The app's RSA public key, as an attacker would use it for an HMAC.
	pubDER, err := x509.MarshalPKIXPublicKey(&k.priv.(*rsa.PrivateKey).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubJWK, _ := json.Marshal(k.pub)

	used := signJWT(t, jose.RS256, k.priv, "k1", assertionClaims(in, app.ClientID, "user-1"))
	if r := exchange(t, in, used, nil); r.status != http.StatusOK {
		t.Fatalf("first use: %d %v", r.status, r.body)
	}
	now := in.Clock.Now()
	good := assertionClaims(in, app.ClientID, "user-1")
	rs := func(claims map[string]any) string { return signJWT(t, jose.RS256, k.priv, "k1", claims) }
	if err := in.Server.Usage.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := in.DumpStore(t)
	tests := []struct {
		name      string
		assertion string
		header    map[string]string
	}{
		{"expired", rs(with(good, "iat", now.Add(-10*time.Minute).Unix(), "exp", now.Add(-2*time.Minute).Unix())), nil},
		{"not yet valid", rs(with(good, "nbf", now.Add(5*time.Minute).Unix())), nil},
		{"issued in the future", rs(with(good, "iat", now.Add(5*time.Minute).Unix())), nil},
		{"exp more than 60 min ahead", rs(with(good, "exp", now.Add(61*time.Minute+time.Second).Unix())), nil},
		{"wrong aud", rs(with(good, "aud", "https://other.example/oauth2/token")), nil},
		{"no aud", rs(with(good, "aud", nil)), nil},
		{"no iat", rs(with(good, "iat", nil)), nil},
		{"no exp", rs(with(good, "exp", nil)), nil},
		{"no jti", rs(with(good, "jti", nil)), nil},
		{"no sub", rs(with(good, "sub", nil)), nil},
		{"replayed jti", used, nil},
		{"replayed jti in a new assertion", rs(with(good, "jti", mustClaim(t, used, "jti"))), nil},
		{"unknown kid", signJWT(t, jose.RS256, k.priv, "k9", good), nil},
		{"another key with the same kid", signJWT(t, jose.RS256, impostor.priv, "k1", good), nil},
		{"alg none", unsignedJWT("k1", good), nil},
		{"HS256 with the RSA public key (DER)", signJWT(t, jose.HS256, pubDER, "k1", good), nil},
		{"HS256 with the RSA public key (JWK)", signJWT(t, jose.HS256, pubJWK, "", good), nil},
		{"HS256 naming an unknown secret", signJWT(t, jose.HS256, pubDER, "sec_nope", good), nil},
		{"HS256 naming the secret, wrong key", signJWT(t, jose.HS256, pubDER, secretID, good), nil},
		{"issued by another app", rs(with(good, "iss", other.ClientID)), nil},
		{"issued by an unknown app", rs(with(good, "iss", "app_test_0000000000000000000000")), nil},
		{"issued by another issuer", rs(with(good, "iss", "https://evil.example")), nil},
		{"client authenticated as another app", rs(good), map[string]string{"Authorization": basic(other.ClientID, other.ClientSecret)}},
		{"garbage", "not.a.jwt", nil},
		{"JWS JSON serialization", `{"payload":"e30","signatures":[{"protected":"eyJhbGciOiJSUzI1NiJ9","signature":"AA"}]}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, in, tc.assertion, tc.header)
			if r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("got %d %v, want 400 invalid_grant", r.status, r.body)
			}
		})
	}
	// RFC 7523 §3 makes jti optional; this server requires it (it is how
	// a replay is refused), and the refusal says so.
	if r := exchange(t, in, rs(with(good, "jti", nil)), nil); !strings.Contains(r.str("error_description"), "requires a jti") ||
		!strings.Contains(r.str("error_description"), "RFC 7523") {
		t.Fatalf("no jti: %d %v", r.status, r.body)
	}
	for name, form := range map[string]url.Values{
		"no assertion":                     {"grant_type": {jwtBearer}},
		"repeated assertion":               {"grant_type": {jwtBearer}, "assertion": {rs(good), rs(good)}},
		"browser with a disallowed origin": nil,
	} {
		t.Run(name, func(t *testing.T) {
			var r response
			if form == nil {
				r = exchange(t, in, rs(good), map[string]string{"Origin": "https://evil.example"})
			} else {
				r = postFormTo(t, in.PublicURL+"/oauth2/token", form, nil)
			}
			if r.status != 400 || r.str("error") != "invalid_request" || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("got %d %v, want 400 invalid_request", r.status, r.body)
			}
		})
	}
	unchanged(t, in, before)
}

// mustClaim reads a claim from a JWT without verifying it.
func mustClaim(t *testing.T, token, name string) any {
	t.Helper()
	var m map[string]any
	parts := strings.Split(token, ".")
	if err := json.Unmarshal(mustB64(t, parts[1]), &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// An app's jwks_uri is fetched once and cached (Cache-Control max-age), an
// unknown kid refetches at most once per 30s, and changing the app (here:
// re-saving its key settings) drops the cached copy.
func TestJWKSURICache(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop")
	k1, k2 := newAppKey(t, jose.RS256, "k1"), newAppKey(t, jose.RS256, "k2")
	host := newJWKSHost(t, k1)
	settings := map[string]any{"jwks_uri": host.URL + "/jwks.json"}
	setAssertionKeys(t, in, app.ClientID, settings)
	// The app's first user token also creates its customer-identifier key,
	// a change of the app; count from there.
	delegatedSub(t, in, app, "u")
	fetches := func(want int) {
		t.Helper()
		if n := host.count(); n != want {
			t.Fatalf("jwks_uri fetched %d times, want %d", n, want)
		}
	}
	for range 3 {
		if r := exchange(t, in, signJWT(t, jose.RS256, k1.priv, "k1", assertionClaims(in, app.ClientID, "u")), nil); r.status != http.StatusOK {
			t.Fatalf("exchange: %d %v", r.status, r.body)
		}
	}
	fetches(1)
	// The app publishes k2: the first unknown kid refetches and finds it...
	in.Clock.Advance(31 * time.Second)
	host.set(k1, k2)
	if r := exchange(t, in, signJWT(t, jose.RS256, k2.priv, "k2", assertionClaims(in, app.ClientID, "u")), nil); r.status != http.StatusOK {
		t.Fatalf("new key: %d %v", r.status, r.body)
	}
	fetches(2)
	// ...but unknown kids do not turn into a flood of fetches.
	for range 3 {
		if r := exchange(t, in, signJWT(t, jose.RS256, k2.priv, "k3", assertionClaims(in, app.ClientID, "u")), nil); r.status != 400 {
			t.Fatalf("unknown kid: %d %v", r.status, r.body)
		}
	}
	fetches(2)
	in.Clock.Advance(31 * time.Second)
	if r := exchange(t, in, signJWT(t, jose.RS256, k2.priv, "k3", assertionClaims(in, app.ClientID, "u")), nil); r.status != 400 || r.str("error") != "invalid_grant" {
		t.Fatalf("unknown kid after the interval: %d %v", r.status, r.body)
	}
	fetches(3)
	setAssertionKeys(t, in, app.ClientID, settings)
	if r := exchange(t, in, signJWT(t, jose.RS256, k1.priv, "k1", assertionClaims(in, app.ClientID, "u")), nil); r.status != http.StatusOK {
		t.Fatalf("after re-saving: %d %v", r.status, r.body)
	}
	fetches(4)
}
