package test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// startUsers starts an instance for the end-user tests: jwks_uri may be a
// loopback httptest server, and no background write (usage flush, jti
// sweep) runs between the two dumps of a no-state-change check.
func startUsers(t *testing.T, opts ...testserver.Option) *testserver.Instance {
	t.Helper()
	base := func(c *server.Config) {
		c.Assertions.JWKSAllowLoopback = true
		c.Assertions.SweepInterval = time.Hour
		c.Cache.UsageFlushInterval = time.Hour
	}
	return testserver.Start(t, append([]testserver.Option{base}, opts...)...)
}

// createTestApp registers a test-environment app allowing origins.
func createTestApp(t *testing.T, in *testserver.Instance, name string, origins ...string) testserver.App {
	t.Helper()
	return in.CreateApp(t, map[string]any{"name": name, "environment": "test", "scopes": []string{"profile"}, "origins": origins})
}

// createUser registers a test user through the admin API and returns its
// opaque subject.
func createUser(t *testing.T, in *testserver.Instance, appID, username, password, customerID string) string {
	t.Helper()
	body := map[string]any{"username": username, "password": password}
	if customerID != "" {
		body["customer_id"] = customerID
	}
	var out struct {
		Subject string `json:"subject"`
	}
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/apps/"+appID+"/users", body, &out); status != http.StatusCreated {
		t.Fatalf("create user %s: status %d", username, status)
	}
	return out.Subject
}

// response is an HTTP response as the tests look at it.
type response struct {
	status int
	body   map[string]any
	header http.Header
	cookie []*http.Cookie
}

func (r response) str(k string) string { s, _ := r.body[k].(string); return s }

// do sends a request with net/http and decodes a JSON body.
func do(t testing.TB, method, u string, body io.Reader, header map[string]string) response {
	t.Helper()
	return doWith(t, http.DefaultClient, method, u, body, header)
}

// doWith is do through client (one with its own source address, say).
func doWith(t testing.TB, client *http.Client, method, u string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, u, data, err)
		}
	}
	return response{status: resp.StatusCode, body: m, header: resp.Header, cookie: resp.Cookies()}
}

// get sends a GET to u, failing the test if it cannot be sent, and
// returns the response with its body closed: for the status and headers.
func get(t testing.TB, u string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

// postFormTo posts form with extra headers.
func postFormTo(t testing.TB, u string, form url.Values, header map[string]string) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	return do(t, http.MethodPost, u, strings.NewReader(form.Encode()), h)
}

// getProfile calls the reference resource.
func getProfile(t testing.TB, in *testserver.Instance, token, apiKey, customer string, header map[string]string) response {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	if apiKey != "" {
		h["X-API-Key"] = apiKey
	}
	for k, v := range header {
		h[k] = v
	}
	var body io.Reader
	if customer != "" {
		b, _ := json.Marshal(map[string]string{"customer": customer})
		body = strings.NewReader(string(b))
		h["Content-Type"] = "application/json"
	}
	return do(t, http.MethodPost, in.PublicURL+"/getprofile", body, h)
}

// userClaims verifies an appUser token against the JWKS with go-jose and
// checks the claims every appUser token has.
func userClaims(t testing.TB, in *testserver.Instance, token, appID string) accessClaims {
	t.Helper()
	c, _, err := verifyToken(token, fetchJWKS(t, in.PublicURL), in.PublicURL, in.PublicURL, in.Clock.Now())
	if err != nil {
		t.Fatalf("verify user token: %v", err)
	}
	if c.CredentialScope != "appUser" || c.ClientID != appID || c.ID == "" {
		t.Fatalf("claims %+v", c)
	}
	if len(c.Subject) != 43 {
		t.Fatalf("sub %q is not a base64url HMAC-SHA-256", c.Subject)
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Subject); err != nil {
		t.Fatalf("sub %q is not base64url: %v", c.Subject, err)
	}
	return c
}

// payloadContains reports whether the decoded payload of a compact JWS
// contains s.
func payloadContains(t testing.TB, token, s string) bool {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(p), s)
}

// appKey is a key pair an app signs its assertions with.
type appKey struct {
	alg  jose.SignatureAlgorithm
	priv any
	pub  jose.JSONWebKey
}

func newAppKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) appKey {
	t.Helper()
	var priv, pub any
	switch alg {
	case jose.RS256, jose.PS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	case jose.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	case jose.EdDSA, "Ed25519":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, p
	default:
		t.Fatalf("no key for %s", alg)
	}
	return appKey{alg: alg, priv: priv, pub: jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"}}
}

// jwksJSON renders public keys as a JWK Set.
func jwksJSON(t testing.TB, keys ...appKey) json.RawMessage {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.pub)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setAssertionKeys replaces an app's assertion-key settings.
func setAssertionKeys(t testing.TB, in *testserver.Instance, appID string, body map[string]any) {
	t.Helper()
	if status := in.Admin(t, "", http.MethodPut, "/admin/v1/apps/"+appID+"/assertion-keys", body, nil); status != http.StatusOK {
		t.Fatalf("set assertion keys: status %d", status)
	}
}

// signJWT signs claims with go-jose, as an app backend would.
func signJWT(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsignedJWT builds an alg "none" token by hand (go-jose will not).
func unsignedJWT(kid string, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + enc(claims) + "."
}

// assertionClaims are valid claims of an app's assertion about sub.
func assertionClaims(in *testserver.Instance, appID, sub string) map[string]any {
	now := in.Clock.Now()
	return map[string]any{
		"iss": appID, "sub": sub, "aud": in.PublicURL + "/oauth2/token",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randomJTI(),
	}
}

func randomJTI() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// with returns a copy of m with the given keys set (nil deletes).
func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// unchanged fails the test, naming each collection that changed, if the
// store differs from before, and reports whether it is unchanged.
func unchanged(t testing.TB, in *testserver.Instance, before map[string][]string) bool {
	t.Helper()
	after := in.DumpStore(t)
	if reflect.DeepEqual(before, after) {
		return true
	}
	for col := range after {
		if !reflect.DeepEqual(before[col], after[col]) {
			t.Errorf("collection %s changed:\n before %v\n after  %v", col, before[col], after[col])
		}
	}
	for col := range before {
		if _, ok := after[col]; !ok {
			t.Errorf("collection %s vanished", col)
		}
	}
	return false
}

// mustB64 decodes unpadded base64url.
func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
