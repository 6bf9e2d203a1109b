package test

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// The DPoP proofs of these tests are signed with go-jose, as a client
// that knows nothing of the server's code would sign them (RFC 9449 §4).

// bindKey is a client's DPoP key pair.
type bindKey struct {
	alg  jose.SignatureAlgorithm
	priv any
	// pub is the public JWK, as the proof's jwk header carries it.
	pub jose.JSONWebKey
}

func newBindKey(t testing.TB, alg jose.SignatureAlgorithm) bindKey {
	t.Helper()
	k := newAppKey(t, alg, "")
	return bindKey{alg: alg, priv: k.priv, pub: jose.JSONWebKey{Key: k.pub.Key}}
}

// jkt is the key's RFC 7638 SHA-256 thumbprint, base64url: what a token
// bound to it carries in cnf.jkt (RFC 9449 §6.1).
func (k bindKey) jkt(t testing.TB) string {
	t.Helper()
	b, err := k.pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// claims are a proof's claims for a request with method htm to htu, made
// at iat, with a fresh jti.
func proofClaims(htm, htu string, iat time.Time) map[string]any {
	return map[string]any{"jti": randomJTI(), "htm": htm, "htu": htu, "iat": iat.Unix()}
}

// proof signs claims with the key; header holds the protected header's
// members beyond alg (typ dpop+jwt and the public jwk unless given).
func (k bindKey) proof(t testing.TB, claims map[string]any, header ...any) string {
	t.Helper()
	h := map[jose.HeaderKey]any{jose.HeaderType: "dpop+jwt", "jwk": k.pub}
	for i := 0; i+1 < len(header); i += 2 {
		h[jose.HeaderKey(header[i].(string))] = header[i+1]
	}
	return signProof(t, k.alg, k.priv, h, claims)
}

func signProof(t testing.TB, alg jose.SignatureAlgorithm, key any, header map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, &jose.SignerOptions{ExtraHeaders: header})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// postProofs posts form to u with header and one DPoP header field per
// proof (none for no proof).
func postProofs(t testing.TB, u string, form url.Values, header map[string]string, proofs ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("POST %s: body %q is not JSON: %v", u, data, err)
		}
	}
	return response{status: resp.StatusCode, body: m, header: resp.Header, cookie: resp.Cookies()}
}

// tokenCnf verifies token against the JWKS and returns its cnf claim: nil
// for a Bearer token.
func tokenCnf(t testing.TB, in *testserver.Instance, token string) map[string]any {
	t.Helper()
	if _, _, err := verifyToken(token, fetchJWKS(t, in.PublicURL), in.Config.Issuer, in.Config.Issuer, in.Clock.Now()); err != nil {
		t.Fatalf("verify token: %v", err)
	}
	var c struct {
		Cnf map[string]any `json:"cnf"`
	}
	if err := json.Unmarshal(mustB64(t, strings.Split(token, ".")[1]), &c); err != nil {
		t.Fatal(err)
	}
	return c.Cnf
}

// A token request with a valid DPoP proof gets a token bound to the
// proof's key (cnf.jkt, its RFC 7638 thumbprint) of token_type DPoP, for
// every grant and every mode of /customer_authenticate, cookie mode
// included; introspection says so (RFC 9449 §6.2). Without a proof the
// same requests get Bearer tokens.
func TestDPoPBindsEveryGrant(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "shop", shopOrigin)
	createUser(t, in, app.ClientID, "alice", "password-1", "")
	signer := newAppKey(t, jose.ES256, "ec-1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, signer)})
	assertion := func() string {
		return signJWT(t, jose.ES256, signer.priv, "ec-1", assertionClaims(in, app.ClientID, "user-7"))
	}
	auth := map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}
	login := url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-1"}}
	tests := []struct {
		name, path string
		alg        jose.SignatureAlgorithm
		form       func() url.Values
		header     map[string]string
		cookie     bool
	}{
		{"client credentials", "/oauth2/token", jose.ES256, func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }, auth, false},
		{"client credentials at /access_token", "/access_token", jose.RS256, func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }, auth, false},
		{"JWT bearer at the token endpoint", "/oauth2/token", jose.PS256, func() url.Values {
			return url.Values{"grant_type": {jwtBearer}, "assertion": {assertion()}}
		}, nil, false},
		{"test user", "/customer_authenticate", jose.EdDSA, func() url.Values { return login }, map[string]string{"Origin": shopOrigin}, false},
		{"delegated", "/customer_authenticate", jose.ES256, func() url.Values { return url.Values{"customer_id": {"user-7"}} }, auth, false},
		{"secure mode", "/customer_authenticate", jose.ES256, func() url.Values { return url.Values{"assertion": {assertion()}} }, nil, false},
		{"test user, cookie mode", "/customer_authenticate", jose.ES256, func() url.Values {
			f := url.Values{"response_mode": {"cookie"}}
			for k, v := range login {
				f[k] = v
			}
			return f
		}, map[string]string{"Origin": shopOrigin}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := newBindKey(t, tc.alg)
			u := in.PublicURL + tc.path
			r := postProofs(t, u, tc.form(), tc.header, key.proof(t, proofClaims(http.MethodPost, u, in.Clock.Now())))
			if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
				t.Fatalf("with a proof: %d %v", r.status, r.body)
			}
			tok := r.str("access_token")
			if tc.cookie {
				if tok != "" || len(r.cookie) != 1 {
					t.Fatalf("cookie mode: body %v, cookies %v", r.body, r.cookie)
				}
				tok = r.cookie[0].Value
				// The page cannot read its HttpOnly token, yet each proof
				// it sends with it carries its hash (RFC 9449 §4.2).
				sum := sha256.Sum256([]byte(tok))
				if r.str("ath") != base64.RawURLEncoding.EncodeToString(sum[:]) {
					t.Fatalf("cookie mode: ath %q is not the token's hash", r.str("ath"))
				}
			}
			cnf := tokenCnf(t, in, tok)
			if len(cnf) != 1 || cnf["jkt"] != key.jkt(t) {
				t.Fatalf("cnf %v, want {jkt: %s}", cnf, key.jkt(t))
			}
			status, intro := introspect(t, in, app, tok)
			if status != http.StatusOK || intro["active"] != true || intro["token_type"] != "DPoP" ||
				!reflectEqualJSON(intro["cnf"], map[string]any{"jkt": key.jkt(t)}) {
				t.Fatalf("introspection: %d %v", status, intro)
			}
			if tc.header["Origin"] != "" && r.header.Get("Access-Control-Expose-Headers") != "DPoP-Nonce" {
				t.Fatalf("a browser cannot read DPoP-Nonce: %v", r.header)
			}

			// The same request without a proof: a Bearer token.
			r = postProofs(t, u, tc.form(), tc.header)
			if r.status != http.StatusOK || r.str("token_type") != "Bearer" {
				t.Fatalf("without a proof: %d %v", r.status, r.body)
			}
			tok = r.str("access_token")
			if tc.cookie {
				tok = r.cookie[0].Value
				if _, ok := r.body["ath"]; ok {
					t.Fatalf("a Bearer cookie comes with ath: %v", r.body)
				}
			}
			if cnf := tokenCnf(t, in, tok); cnf != nil {
				t.Fatalf("a Bearer token carries cnf %v", cnf)
			}
			if status, intro := introspect(t, in, app, tok); status != http.StatusOK || intro["token_type"] != "Bearer" || intro["cnf"] != nil {
				t.Fatalf("introspection of a Bearer token: %d %v", status, intro)
			}
		})
	}
}

// reflectEqualJSON compares two decoded JSON values.
func reflectEqualJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Every bad proof, and a missing one when the app requires DPoP, is
// refused at the token endpoint with 400 invalid_dpop_proof (RFC 9449 §5,
// §4.3), gets no token, and leaves the store as it was: the proof store is
// the database here, where a refused proof would show.
func TestDPoPRefusals(t *testing.T) {
	t.Parallel()
	in := startUsers(t, func(c *server.Config) { c.DPoP.Replay = "database" })
	app := in.CreateApp(t, map[string]any{"name": "bound", "environment": "test", "scopes": []string{"profile"}, "dpop_bound_access_tokens": true})
	createUser(t, in, app.ClientID, "alice", "password-1", "")
	tokenURL := in.PublicURL + "/oauth2/token"
	caURL := in.PublicURL + "/customer_authenticate"
	cc := url.Values{"grant_type": {"client_credentials"}}
	auth := map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}
	login := url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-1"}}
	key := newBindKey(t, jose.ES256)
	other := newBindKey(t, jose.ES256)
	now := in.Clock.Now()
	valid := func() map[string]any { return proofClaims(http.MethodPost, tokenURL, now) }
	badSignature := func() string {
		p := key.proof(t, valid())
		dot := strings.LastIndexByte(p, '.')
		sig := mustB64(t, p[dot+1:])
		sig[len(sig)/2] ^= 1
		return p[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	unsigned := func() string {
		enc := func(v any) string {
			b, _ := json.Marshal(v)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		return enc(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": key.pub}) + "." + enc(valid()) + "."
	}
	replayed := key.proof(t, valid())
	if r := postProofs(t, tokenURL, cc, auth, replayed); r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("first use of the proof: %d %v", r.status, r.body)
	}
	tests := []struct {
		name   string
		url    string
		form   url.Values
		header map[string]string
		proofs func() []string
		want   string // a part of error_description
	}{
		{"no proof, app requires DPoP", tokenURL, cc, auth, func() []string { return nil }, "dpop_bound_access_tokens"},
		{"no proof at /customer_authenticate", caURL, login, nil, func() []string { return nil }, "dpop_bound_access_tokens"},
		{"two DPoP headers", tokenURL, cc, auth, func() []string { return []string{key.proof(t, valid()), key.proof(t, valid())} }, "more than one"},
		{"not a JWS", tokenURL, cc, auth, func() []string { return []string{"not-a-proof"} }, ""},
		{"empty DPoP header", tokenURL, cc, auth, func() []string { return []string{""} }, ""},
		{"typ JWT", tokenURL, cc, auth, func() []string { return []string{key.proof(t, valid(), "typ", "JWT")} }, "typ"},
		{"alg none", tokenURL, cc, auth, func() []string { return []string{unsigned()} }, "alg"},
		{"HS256", tokenURL, cc, auth, func() []string {
			return []string{signProof(t, jose.HS256, []byte(strings.Repeat("k", 32)), map[jose.HeaderKey]any{jose.HeaderType: "dpop+jwt", "jwk": key.pub}, valid())}
		}, "alg"},
		{"private key in jwk", tokenURL, cc, auth, func() []string {
			return []string{key.proof(t, valid(), "jwk", jose.JSONWebKey{Key: key.priv})}
		}, "jwk"},
		{"another key in jwk", tokenURL, cc, auth, func() []string { return []string{key.proof(t, valid(), "jwk", other.pub)} }, "signature"},
		{"bad signature", tokenURL, cc, auth, func() []string { return []string{badSignature()} }, "signature"},
		{"htm GET", tokenURL, cc, auth, func() []string { return []string{key.proof(t, with(valid(), "htm", http.MethodGet))} }, "htm"},
		{"htu of /customer_authenticate", tokenURL, cc, auth, func() []string { return []string{key.proof(t, with(valid(), "htu", caURL))} }, "htu"},
		{"htu of the token endpoint at /customer_authenticate", caURL, login, nil, func() []string { return []string{key.proof(t, valid())} }, "htu"},
		{"htu of /access_token", tokenURL, cc, auth, func() []string {
			return []string{key.proof(t, with(valid(), "htu", in.PublicURL+"/access_token"))}
		}, "htu"},
		{"htu on another host", tokenURL, cc, auth, func() []string {
			return []string{key.proof(t, with(valid(), "htu", "https://evil.example/oauth2/token"))}
		}, "htu"},
		{"no jti", tokenURL, cc, auth, func() []string { return []string{key.proof(t, with(valid(), "jti", nil))} }, "jti"},
		{"stale iat", tokenURL, cc, auth, func() []string { return []string{key.proof(t, with(valid(), "iat", now.Add(-2*time.Minute).Unix()))} }, "iat"},
		{"future iat", tokenURL, cc, auth, func() []string { return []string{key.proof(t, with(valid(), "iat", now.Add(2*time.Minute).Unix()))} }, "iat"},
		{"replayed proof", tokenURL, cc, auth, func() []string { return []string{replayed} }, "already used"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			proofs := tc.proofs()
			before := in.DumpStore(t)
			r := postProofs(t, tc.url, tc.form, tc.header, proofs...)
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" || !strings.Contains(r.str("error_description"), tc.want) {
				t.Fatalf("got %d %v, want 400 invalid_dpop_proof (%q)", r.status, r.body, tc.want)
			}
			if r.str("access_token") != "" || len(r.cookie) != 0 || r.header.Get("DPoP-Nonce") != "" {
				t.Fatalf("a refusal carries a token or a nonce: %v %v", r.body, r.header)
			}
			assertStoreUnchanged(t, in, before)
		})
	}
}

// A proof is recorded only when its token is issued (like a user
// assertion's jti): a request refused for another reason leaves no record
// and the proof still works; once used, it is refused; of concurrent
// requests with one proof exactly one gets a token, across two instances
// that share the database.
func TestDPoPProofRecordedOnlyWithToken(t *testing.T) {
	t.Parallel()
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	// The first instance serves the embedded database on its Unix socket
	// only, which "auto" cannot know is shared: it is told. The peer
	// connects through a URI, so "auto" puts its proofs in the database.
	first := startUsers(t, issuer, func(c *server.Config) { c.DPoP.Replay = "database" })
	peer := startPeer(t, first, issuer)
	app := first.CreateApp(t, map[string]any{"name": "shared", "scopes": []string{"read"}})
	auth := map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}
	key := newBindKey(t, jose.ES256)
	proof := key.proof(t, proofClaims(http.MethodPost, "http://issuer.test/oauth2/token", first.Clock.Now()))

	before := first.DumpStore(t)
	r := postProofs(t, first.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}}, auth, proof)
	if r.status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
		t.Fatalf("scope the app may not have: %d %v", r.status, r.body)
	}
	assertStoreUnchanged(t, first, before)

	const n = 6
	results := make(chan response, n)
	for i := range n {
		in := first
		if i%2 == 1 {
			in = peer
		}
		go func() {
			results <- postProofs(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, auth, proof)
		}()
	}
	issued := 0
	for range n {
		r := <-results
		switch {
		case r.status == http.StatusOK && r.str("token_type") == "DPoP":
			issued++
		case r.status == http.StatusBadRequest && r.str("error") == "invalid_dpop_proof" && strings.Contains(r.str("error_description"), "already used"):
		default:
			t.Errorf("unexpected answer: %d %v", r.status, r.body)
		}
	}
	if issued != 1 {
		t.Fatalf("%d of %d concurrent requests with one proof got a token, want 1", issued, n)
	}
	for _, in := range []*testserver.Instance{first, peer} {
		if r := postProofs(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, auth, proof); r.status != http.StatusBadRequest ||
			r.str("error") != "invalid_dpop_proof" {
			t.Fatalf("the used proof again: %d %v", r.status, r.body)
		}
	}
}

// An app with dpop_nonce_required: a proof without a nonce is answered
// 400 use_dpop_nonce with a nonce in DPoP-Nonce (RFC 9449 §8), the retry
// with it gets a bound token (and the current nonce), another instance
// sharing the KEK takes the same nonce, and a stale nonce is refused with
// a fresh one. No refusal changes the store.
func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	first := startUsers(t, issuer)
	peer := startPeer(t, first, issuer)
	app := first.CreateApp(t, map[string]any{"name": "nonces", "dpop_nonce_required": true})
	auth := map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}
	cc := url.Values{"grant_type": {"client_credentials"}}
	const htu = "http://issuer.test/oauth2/token"
	key := newBindKey(t, jose.ES256)
	now := func() time.Time { return first.Clock.Now() }
	askNonce := func(in *testserver.Instance, claims map[string]any) string {
		t.Helper()
		before := in.DumpStore(t)
		r := postProofs(t, in.PublicURL+"/oauth2/token", cc, auth, key.proof(t, claims))
		nonce := r.header.Get("DPoP-Nonce")
		if r.status != http.StatusBadRequest || r.str("error") != "use_dpop_nonce" || nonce == "" || r.str("access_token") != "" {
			t.Fatalf("proof without a current nonce: %d %v %v", r.status, r.body, r.header)
		}
		assertStoreUnchanged(t, in, before)
		return nonce
	}
	nonce := askNonce(first, proofClaims(http.MethodPost, htu, now()))
	r := postProofs(t, first.PublicURL+"/oauth2/token", cc, auth, key.proof(t, with(proofClaims(http.MethodPost, htu, now()), "nonce", nonce)))
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("retry with the nonce: %d %v %v", r.status, r.body, r.header)
	}
	if cnf := tokenCnf(t, first, r.str("access_token")); cnf["jkt"] != key.jkt(t) {
		t.Fatalf("cnf %v", cnf)
	}
	// Instances that share the KEK share nonces, with no setting.
	r = postProofs(t, peer.PublicURL+"/oauth2/token", cc, auth, key.proof(t, with(proofClaims(http.MethodPost, htu, now()), "nonce", nonce)))
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("the nonce at another instance: %d %v", r.status, r.body)
	}
	// Three nonce periods later the nonce is stale: refused, with a new one.
	first.Clock.Advance(15 * time.Minute)
	fresh := askNonce(first, with(proofClaims(http.MethodPost, htu, now()), "nonce", nonce))
	if fresh == nonce {
		t.Fatal("the stale nonce was handed out again")
	}
	r = postProofs(t, first.PublicURL+"/oauth2/token", cc, auth, key.proof(t, with(proofClaims(http.MethodPost, htu, now()), "nonce", fresh)))
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("retry with the fresh nonce: %d %v", r.status, r.body)
	}
	// Without a proof, an app that does not require DPoP still gets a
	// Bearer token: the nonce applies to proofs only.
	if r := postProofs(t, first.PublicURL+"/oauth2/token", cc, auth); r.status != http.StatusOK || r.str("token_type") != "Bearer" {
		t.Fatalf("no proof: %d %v", r.status, r.body)
	}
}

// The metadata advertises the algorithms proofs may use (RFC 9449 §5.1),
// those of dpop.algorithms, and a proof signed with another is refused.
func TestDPoPMetadata(t *testing.T) {
	t.Parallel()
	def := testserver.Start(t)
	_, md := fetchMetadata(t, def, "/.well-known/oauth-authorization-server")
	if got := string(md["dpop_signing_alg_values_supported"]); got != `["ES256","EdDSA","Ed25519","RS256","PS256"]` {
		t.Fatalf("dpop_signing_alg_values_supported %s", got)
	}
	in := testserver.Start(t, func(c *server.Config) { c.DPoP.Algorithms = []string{"ES256"} })
	_, md = fetchMetadata(t, in, "/.well-known/openid-configuration")
	if got := string(md["dpop_signing_alg_values_supported"]); got != `["ES256"]` {
		t.Fatalf("dpop_signing_alg_values_supported %s with dpop.algorithms [ES256]", got)
	}
	app := in.CreateApp(t, map[string]any{"name": "algs"})
	u := in.PublicURL + "/oauth2/token"
	for alg, want := range map[jose.SignatureAlgorithm]int{jose.ES256: http.StatusOK, jose.PS256: http.StatusBadRequest} {
		r := postProofs(t, u, url.Values{"grant_type": {"client_credentials"}}, map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)},
			newBindKey(t, alg).proof(t, proofClaims(http.MethodPost, u, in.Clock.Now())))
		if r.status != want || want != http.StatusOK && r.str("error") != "invalid_dpop_proof" {
			t.Errorf("%s proof: %d %v, want %d", alg, r.status, r.body, want)
		}
	}
}

// A browser may send a proof to /customer_authenticate: the preflight
// allows the DPoP request header for an origin some app lists.
func TestDPoPPreflight(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	createTestApp(t, in, "shop", shopOrigin)
	r := do(t, http.MethodOptions, in.PublicURL+"/customer_authenticate", nil, map[string]string{
		"Origin": shopOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, dpop",
	})
	allowed := strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != shopOrigin || !strings.Contains(allowed, "dpop") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
}

// The admin API sets and shows an app's DPoP policy, and the token
// endpoint follows each change at once: dpop_bound_access_tokens refuses
// a request without a proof, dpop_nonce_required one without a nonce.
func TestDPoPPolicyAdminAPI(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	var app struct {
		testserver.App
		Bound bool `json:"dpop_bound_access_tokens"`
		Nonce bool `json:"dpop_nonce_required"`
	}
	if s := in.Admin(t, "", http.MethodPost, "/admin/v1/apps", map[string]any{"name": "policy", "dpop_bound_access_tokens": true}, &app); s != http.StatusCreated || !app.Bound || app.Nonce {
		t.Fatalf("create: %d %+v", s, app)
	}
	id := app.ClientID
	auth := map[string]string{"Authorization": basic(id, app.ClientSecret)}
	u := in.PublicURL + "/oauth2/token"
	cc := url.Values{"grant_type": {"client_credentials"}}
	key := newBindKey(t, jose.ES256)
	request := func(withProof bool) response {
		if !withProof {
			return postProofs(t, u, cc, auth)
		}
		return postProofs(t, u, cc, auth, key.proof(t, proofClaims(http.MethodPost, u, in.Clock.Now())))
	}
	if r := request(false); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("no proof, bound app: %d %v", r.status, r.body)
	}
	if r := request(true); r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("proof, bound app: %d %v", r.status, r.body)
	}

	var got struct {
		Bound bool `json:"dpop_bound_access_tokens"`
		Nonce bool `json:"dpop_nonce_required"`
	}
	if s := in.Admin(t, "", http.MethodPatch, "/admin/v1/apps/"+id, map[string]any{"dpop_bound_access_tokens": false, "dpop_nonce_required": true}, &got); s != http.StatusOK || got.Bound || !got.Nonce {
		t.Fatalf("update: %d %+v", s, got)
	}
	if s := in.Admin(t, "", http.MethodGet, "/admin/v1/apps/"+id, nil, &got); s != http.StatusOK || got.Bound || !got.Nonce {
		t.Fatalf("get: %d %+v", s, got)
	}
	if r := request(false); r.status != http.StatusOK || r.str("token_type") != "Bearer" {
		t.Fatalf("no proof, app no longer bound: %d %v", r.status, r.body)
	}
	if r := request(true); r.status != http.StatusBadRequest || r.str("error") != "use_dpop_nonce" || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("proof without a nonce, nonce required: %d %v", r.status, r.body)
	}

	before := in.DumpStore(t)
	for _, body := range []map[string]any{{"dpop_nonce_required": "yes"}, {"dpop_bound_access_tokens": 1}} {
		if r := adminCall(t, in, "", http.MethodPatch, "/admin/v1/apps/"+id, body); r.status != http.StatusBadRequest {
			t.Fatalf("update with %v: %d %s", body, r.status, r.code())
		}
	}
	assertStoreUnchanged(t, in, before)
}
