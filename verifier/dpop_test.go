package verifier_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier"
	"github.com/authserver/authserver/verifier/dpop"
)

// The proofs of these tests are made with go-jose, independently of
// dpop.NewProof (tested on its own in verifier/dpop).

const resourceURL = "https://api.example.com/resource"

// dpopKey is a client's DPoP key.
type dpopKey struct {
	priv crypto.Signer
	alg  jose.SignatureAlgorithm
}

func newDPoPKey(t testing.TB, alg jose.SignatureAlgorithm) dpopKey {
	t.Helper()
	switch alg {
	case jose.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return dpopKey{k, alg}
	default:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return dpopKey{k, jose.EdDSA}
	}
}

// jkt is go-jose's RFC 7638 thumbprint of the key.
func (k dpopKey) jkt(t testing.TB) string {
	t.Helper()
	sum, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// proof signs claims as a DPoP proof (typ dpop+jwt, the public jwk).
func (k dpopKey) proof(t testing.TB, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv},
		&jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"typ": "dpop+jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func athOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// proofClaims are the claims of a valid proof for POST resourceURL with
// token, issued at now.
func proofClaims(now time.Time, token string) map[string]any {
	return map[string]any{"jti": rand.Text(), "htm": "POST", "htu": resourceURL, "iat": now.Unix(), "ath": athOf(token)}
}

// dpopFixture is an issuer, a verifier with DPoP at resourceURL's base, a
// client key and tokens bound to it.
type dpopFixture struct {
	clk           *clock
	v             *verifier.Verifier
	issuerKey     signingKey
	client, other dpopKey
	bound         string // an appUser token bound to client
	bearer        string // the same without cnf
}

func newDPoPFixture(t *testing.T, dcfg verifier.DPoPConfig) *dpopFixture {
	t.Helper()
	f := &dpopFixture{clk: &clock{t: time.Unix(1_800_000_000, 0)}, issuerKey: newRSAKey(t, "k1")}
	srv := newJWKSServer(t, "max-age=300", f.issuerKey.pub)
	if dcfg.BaseURL == "" {
		dcfg.BaseURL = "https://api.example.com"
	}
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: f.clk.Now, DPoP: dcfg})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	f.client, f.other = newDPoPKey(t, jose.ES256), newDPoPKey(t, jose.EdDSA)
	f.bound = f.token(t, map[string]any{"jkt": f.client.jkt(t)})
	f.bearer = f.token(t, nil)
	return f
}

// token is an appUser token with cnf (nil: none).
func (f *dpopFixture) token(t testing.TB, cnf map[string]any) string {
	c := baseClaims(f.clk.Now())
	c["jti"] = rand.Text()
	if cnf != nil {
		c["cnf"] = cnf
	}
	return sign(t, jose.RS256, f.issuerKey.priv, "k1", "at+jwt", c)
}

// request is a POST to resourceURL with the Authorization header fields
// and DPoP header fields given.
func request(authorization []string, proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, resourceURL, nil)
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// TestMiddlewareDPoP holds every refusal of a DPoP-bound (or DPoP-sent)
// token at a resource to a named case: its status, its error code, the
// scheme of its WWW-Authenticate challenge and what its description
// names; a passing case reaches the handler with the token's cnf.jkt. No
// answer repeats the token or the proof.
func TestMiddlewareDPoP(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, verifier.DPoPConfig{})
	now := f.clk.Now()
	var reached string
	h := f.v.Middleware(verifier.MiddlewareOptions{Realm: "api"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFromContext(r.Context())
		reached = c.Confirmation.JKT
	}))
	serveReq := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	good := func() string { return f.client.proof(t, proofClaims(now, f.bound)) }
	dpopAuth := []string{"DPoP " + f.bound}
	replayed := good()
	if rec := serveReq(request(dpopAuth, replayed)); rec.Code != http.StatusOK {
		t.Fatalf("first use of the proof to replay: %d %s", rec.Code, rec.Body)
	}
	xcnf := f.token(t, map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
	tests := []struct {
		name    string
		req     *http.Request
		status  int
		code    string // "" for a 200, or for a request without a token
		scheme  string // the challenge's scheme
		says    string // in the description
		reached string // the cnf.jkt the handler sees
	}{
		{name: "bound token with a good proof", req: request(dpopAuth, good()), status: 200, reached: f.client.jkt(t)},
		{name: "scheme in lowercase", req: request([]string{"dpop " + f.bound}, good()), status: 200, reached: f.client.jkt(t)},
		{name: "request URL with a query", req: func() *http.Request {
			r := request(dpopAuth, good())
			r.URL.RawQuery = "page=2"
			return r
		}(), status: 200, reached: f.client.jkt(t)},
		{name: "unbound token as bearer", req: request([]string{"Bearer " + f.bearer}), status: 200},
		{name: "unbound token as bearer, a DPoP header ignored", req: request([]string{"bearer " + f.bearer}, "junk"), status: 200},

		{name: "bound token as bearer", req: request([]string{"Bearer " + f.bound}),
			status: 401, code: "invalid_token", scheme: "DPoP", says: "DPoP-bound"},
		{name: "bound token as bearer with a good proof", req: request([]string{"Bearer " + f.bound}, good()),
			status: 401, code: "invalid_token", scheme: "DPoP", says: "DPoP-bound"},
		{name: "proof from another key", req: request(dpopAuth, f.other.proof(t, proofClaims(now, f.bound))),
			status: 401, code: "invalid_token", scheme: "DPoP", says: "not the key the access token is bound to"},
		{name: "replayed proof", req: request(dpopAuth, replayed),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "already used"},
		{name: "proof for another path", req: request(dpopAuth, f.client.proof(t, with(proofClaims(now, f.bound), "htu", "https://api.example.com/other"))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "htu"},
		{name: "proof for another host", req: request(dpopAuth, f.client.proof(t, with(proofClaims(now, f.bound), "htu", "https://evil.example/resource"))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "htu"},
		{name: "proof for another method", req: request(dpopAuth, f.client.proof(t, with(proofClaims(now, f.bound), "htm", "GET"))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "htm"},
		{name: "stale proof", req: request(dpopAuth, f.client.proof(t, with(proofClaims(now, f.bound), "iat", now.Add(-2*time.Minute).Unix()))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "iat"},
		{name: "proof from the future", req: request(dpopAuth, f.client.proof(t, with(proofClaims(now, f.bound), "iat", now.Add(2*time.Minute).Unix()))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "iat"},
		{name: "missing ath", req: request(dpopAuth, f.client.proof(t, with(proofClaims(now, f.bound), "ath", nil))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "ath"},
		{name: "ath of another token", req: request(dpopAuth, f.client.proof(t, proofClaims(now, f.bearer))),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "ath"},
		{name: "two DPoP headers", req: request(dpopAuth, good(), good()),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "more than one DPoP header"},
		{name: "no DPoP header", req: request(dpopAuth),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "DPoP header missing"},
		{name: "proof is not a JWT", req: request(dpopAuth, "not-a-proof"),
			status: 401, code: "invalid_dpop_proof", scheme: "DPoP", says: "compact JWS"},
		{name: "unbound token with the DPoP scheme", req: request([]string{"DPoP " + f.bearer}, f.client.proof(t, proofClaims(now, f.bearer))),
			status: 401, code: "invalid_token", scheme: "DPoP", says: "not DPoP-bound"},
		{name: "bound token of another confirmation method", req: request([]string{"Bearer " + xcnf}),
			status: 401, code: "invalid_token", scheme: "Bearer", says: "cnf"},
		{name: "invalid token with the DPoP scheme", req: request([]string{"DPoP " + f.bound + "x"}, good()),
			status: 401, code: "invalid_token", scheme: "DPoP", says: "signature"},
		{name: "two Authorization headers", req: request([]string{"DPoP " + f.bound, "Bearer " + f.bearer}, good()),
			status: 400, code: "invalid_request", scheme: "Bearer", says: "more than one Authorization"},
		{name: "no token", req: request(nil), status: 401},
		{name: "another scheme", req: request([]string{"Basic YTpi"}), status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached = ""
			rec := serveReq(tc.req)
			if rec.Code != tc.status || reached != tc.reached {
				t.Fatalf("%d %s (handler saw jkt %q), want %d (jkt %q)", rec.Code, rec.Body, reached, tc.status, tc.reached)
			}
			www := rec.Header().Values("WWW-Authenticate")
			if tc.status == 200 {
				if len(www) != 0 {
					t.Fatalf("challenge on a 200: %q", www)
				}
				return
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if tc.code == "" {
				// No credentials: both schemes, no error code (RFC 6750
				// §3.1, RFC 9449 §7.1).
				want := []string{`Bearer realm="api"`, `DPoP realm="api", algs="ES256 EdDSA Ed25519 RS256 PS256"`}
				if strings.Join(www, "\n") != strings.Join(want, "\n") {
					t.Fatalf("WWW-Authenticate %q, want %q", www, want)
				}
				return
			}
			desc := body["error_description"]
			if body["error"] != tc.code || !strings.Contains(desc, tc.says) || len(www) != 1 {
				t.Fatalf("body %v, WWW-Authenticate %q: want %s saying %q", body, www, tc.code, tc.says)
			}
			wantPrefix := tc.scheme + ` realm="api", error="` + tc.code + `", error_description="` + desc + `"`
			if !strings.HasPrefix(www[0], wantPrefix) {
				t.Fatalf("WWW-Authenticate %q, want it to begin %q", www[0], wantPrefix)
			}
			if tc.scheme == "DPoP" && !strings.HasSuffix(www[0], `, algs="ES256 EdDSA Ed25519 RS256 PS256"`) {
				t.Fatalf("DPoP challenge without algs: %q", www[0])
			}
			for _, v := range append(tc.req.Header.Values("Authorization"), tc.req.Header.Values("DPoP")...) {
				for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == ' ' }) {
					if len(part) > 12 && strings.Contains(rec.Body.String()+strings.Join(www, ""), part) {
						t.Fatalf("the answer repeats the token or the proof: %s %q", rec.Body, www)
					}
				}
			}
		})
	}
}

// A nonce required by DPoPConfig.RequireNonce: a proof without one is
// refused with use_dpop_nonce and a DPoP-Nonce header (RFC 9449 §9); the
// retry with it passes, and the answer brings the current nonce.
func TestMiddlewareDPoPNonce(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	nonces, err := dpop.NewNonceSource([]byte(strings.Repeat("n", 32)), 5*time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	var asked string
	f := newDPoPFixture(t, verifier.DPoPConfig{Nonces: nonces, RequireNonce: func(_ context.Context, c *verifier.Claims) bool {
		asked = c.ClientID
		return true
	}})
	h := f.v.Middleware(verifier.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request([]string{"DPoP " + f.bound}, f.client.proof(t, proofClaims(f.clk.Now(), f.bound))))
	nonce := rec.Header().Get("DPoP-Nonce")
	if rec.Code != 401 || nonce == "" || asked != "app_test_1" ||
		!strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `DPoP realm="resource", error="use_dpop_nonce"`) {
		t.Fatalf("without a nonce: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	for name, n := range map[string]string{"a made-up nonce": strings.Repeat("A", 43), "the nonce": nonce} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, request([]string{"DPoP " + f.bound}, f.client.proof(t, with(proofClaims(f.clk.Now(), f.bound), "nonce", n))))
		want := 401
		if n == nonce {
			want = 200
		}
		if rec.Code != want || rec.Header().Get("DPoP-Nonce") != nonce {
			t.Fatalf("with %s: %d %v %s, want %d and the nonce", name, rec.Code, rec.Header(), rec.Body, want)
		}
	}
}

// With Nonces but no nonce required for the token, a proof without a
// nonce passes and the answer carries no DPoP-Nonce: a client that keeps
// nonces by origin would send it to the token endpoint next.
func TestMiddlewareDPoPNonceNotRequired(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	nonces, err := dpop.NewNonceSource([]byte(strings.Repeat("n", 32)), 5*time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := newDPoPFixture(t, verifier.DPoPConfig{Nonces: nonces, RequireNonce: func(context.Context, *verifier.Claims) bool { return false }})
	h := f.v.Middleware(verifier.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request([]string{"DPoP " + f.bound}, f.client.proof(t, proofClaims(f.clk.Now(), f.bound))))
	if rec.Code != 200 || rec.Header().Get("DPoP-Nonce") != "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

// Without BaseURL the htu is formed from the request (scheme by TLS, then
// Host), so a proof for the https URL a proxy received is refused behind
// a TLS-terminating proxy; BaseURL's path prefixes the request's.
func TestDPoPRequestURI(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	k := newRSAKey(t, "k1")
	srv := newJWKSServer(t, "max-age=300", k.pub)
	client := newDPoPKey(t, jose.EdDSA)
	tok := sign(t, jose.RS256, k.priv, "k1", "at+jwt", with(baseClaims(clk.Now()), "cnf", map[string]any{"jkt": client.jkt(t)}))
	for _, tc := range []struct {
		name, base, target, htu string
		ok                      bool
	}{
		{"from the request, http", "", "http://api.internal:8080/resource", "http://api.internal:8080/resource", true},
		{"from the request, https", "", "https://api.example.com/resource", "https://api.example.com/resource", true},
		{"from the request: a TLS-terminating proxy", "", "http://api.example.com/resource", "https://api.example.com/resource", false},
		{"base URL", "https://api.example.com", "http://10.0.0.7:8080/resource", "https://api.example.com/resource", true},
		{"base URL with a trailing slash", "https://api.example.com/", "http://10.0.0.7:8080/resource", "https://api.example.com/resource", true},
		{"base URL, proof for the internal URL", "https://api.example.com", "http://10.0.0.7:8080/resource", "http://10.0.0.7:8080/resource", false},
		{"base URL with a path prefix", "https://example.com/api", "http://10.0.0.7/resource", "https://example.com/api/resource", true},
		{"escaped path", "https://api.example.com", "http://10.0.0.7/a%2Fb", "https://api.example.com/a%2fb", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now,
				DPoP: verifier.DPoPConfig{BaseURL: tc.base}})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, tc.target, nil)
			r.Header.Set("Authorization", "DPoP "+tok)
			r.Header.Set("DPoP", client.proof(t, with(proofClaims(clk.Now(), tok), "htu", tc.htu)))
			c, err := v.VerifyRequest(context.Background(), r)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, dpop.ErrURI)) {
				t.Fatalf("VerifyRequest: %v, %v; want ok %v", c, err, tc.ok)
			}
		})
	}
}

// A token in the middleware's cookie: with a DPoP header it is a DPoP
// presentation (a bound token kept in an HttpOnly cookie, the proof made
// by the page with its hash), without one a bearer presentation.
func TestMiddlewareDPoPCookie(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, verifier.DPoPConfig{})
	now := f.clk.Now()
	h := f.v.Middleware(verifier.MiddlewareOptions{Cookie: "tok"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		name, cookie string
		proofs       []string
		status       int
		code         string
	}{
		{"bound token with its proof", f.bound, []string{f.client.proof(t, proofClaims(now, f.bound))}, 200, ""},
		{"bound token alone", f.bound, nil, 401, "invalid_token"},
		{"bound token with another key's proof", f.bound, []string{f.other.proof(t, proofClaims(now, f.bound))}, 401, "invalid_token"},
		{"bound token with a proof without ath", f.bound, []string{f.client.proof(t, with(proofClaims(now, f.bound), "ath", nil))}, 401, "invalid_dpop_proof"},
		{"bearer token alone", f.bearer, nil, 200, ""},
		{"bearer token with a proof", f.bearer, []string{f.client.proof(t, proofClaims(now, f.bearer))}, 401, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request(nil, tc.proofs...)
			r.AddCookie(&http.Cookie{Name: "tok", Value: tc.cookie})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.status || body["error"] != tc.code {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
		})
	}
}

// VerifyRequest and VerifyPresentation, the paths without the middleware:
// claims with the confirmation, or a *RequestError that says what to
// answer and wraps the failed check.
func TestVerifyRequestErrors(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, verifier.DPoPConfig{})
	now := f.clk.Now()
	ctx := context.Background()

	c, err := f.v.VerifyRequest(ctx, request([]string{"DPoP " + f.bound}, f.client.proof(t, proofClaims(now, f.bound))))
	if err != nil || c.Confirmation.JKT != f.client.jkt(t) || c.Subject != "user-1" {
		t.Fatalf("VerifyRequest: %+v, %v", c, err)
	}
	c, err = f.v.VerifyPresentation(ctx, verifier.Presentation{Scheme: "DPoP", Token: f.bound, Method: "POST", URI: resourceURL + "?q=1",
		Proofs: []string{f.client.proof(t, proofClaims(now, f.bound))}})
	if err != nil || c.Confirmation.JKT != f.client.jkt(t) {
		t.Fatalf("VerifyPresentation: %+v, %v", c, err)
	}
	// Verify alone has no proof to check: a bound token is refused.
	if _, err := f.v.Verify(ctx, f.bound); !errors.Is(err, verifier.ErrBoundToken) {
		t.Fatalf("Verify of a bound token: %v", err)
	}
	if c, err := f.v.Verify(ctx, f.bearer); err != nil || c.Confirmation.JKT != "" {
		t.Fatalf("Verify of a bearer token: %+v, %v", c, err)
	}

	replayed := f.client.proof(t, proofClaims(now, f.bound))
	if _, err := f.v.VerifyRequest(ctx, request([]string{"DPoP " + f.bound}, replayed)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		p      verifier.Presentation
		want   []error
		status int
		code   string
	}{
		{"replay", verifier.Presentation{Scheme: "DPoP", Token: f.bound, Method: "POST", URI: resourceURL, Proofs: []string{replayed}},
			[]error{verifier.ErrProof, dpop.ErrReplay}, 401, "invalid_dpop_proof"},
		{"another key", verifier.Presentation{Scheme: "DPoP", Token: f.bound, Method: "POST", URI: resourceURL,
			Proofs: []string{f.other.proof(t, proofClaims(now, f.bound))}}, []error{verifier.ErrKeyBinding}, 401, "invalid_token"},
		{"bearer use of a bound token", verifier.Presentation{Scheme: "Bearer", Token: f.bound}, []error{verifier.ErrBoundToken}, 401, "invalid_token"},
		{"bad signature", verifier.Presentation{Scheme: "Bearer", Token: f.token(t, nil) + "x"}, []error{verifier.ErrSignature}, 401, "invalid_token"},
		{"no URI", verifier.Presentation{Scheme: "DPoP", Token: f.bound, Method: "POST", Proofs: []string{replayed}},
			[]error{verifier.ErrRequestURI}, 400, "invalid_request"},
		{"relative URI", verifier.Presentation{Scheme: "DPoP", Token: f.bound, Method: "POST", URI: "/resource", Proofs: []string{replayed}},
			[]error{verifier.ErrRequestURI}, 400, "invalid_request"},
		{"no method", verifier.Presentation{Scheme: "DPoP", Token: f.bound, URI: resourceURL, Proofs: []string{replayed}},
			[]error{verifier.ErrRequestURI}, 400, "invalid_request"},
		{"no token", verifier.Presentation{Scheme: "DPoP"}, []error{verifier.ErrNoToken}, 401, ""},
		{"another scheme", verifier.Presentation{Scheme: "MAC", Token: f.bearer}, []error{verifier.ErrNoToken}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.VerifyPresentation(ctx, tc.p)
			var re *verifier.RequestError
			if !errors.As(err, &re) || re.Status != tc.status || re.Code != tc.code || re.Description != verifier.Description(err) {
				t.Fatalf("error %#v, want a *RequestError %d %q", err, tc.status, tc.code)
			}
			for _, want := range tc.want {
				if !errors.Is(err, want) {
					t.Fatalf("%v does not wrap %v", err, want)
				}
			}
		})
	}
}

// failingReplay is a replay cache that cannot answer.
type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store down")
}

// A replay cache that fails makes the proof uncheckable: 503 with
// Retry-After, not a refusal of the client's proof.
func TestMiddlewareDPoPReplayCacheDown(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, verifier.DPoPConfig{Replay: failingReplay{}})
	h := f.v.Middleware(verifier.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request([]string{"DPoP " + f.bound}, f.client.proof(t, proofClaims(f.clk.Now(), f.bound))))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("WWW-Authenticate") != "" ||
		strings.Contains(rec.Body.String(), "store down") {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	_, err := f.v.VerifyRequest(context.Background(), request([]string{"DPoP " + f.bound}, f.client.proof(t, proofClaims(f.clk.Now(), f.bound))))
	if !errors.Is(err, verifier.ErrProofUnavailable) {
		t.Fatalf("VerifyRequest: %v", err)
	}
}

// CORS with DPoP: a preflight may ask for the DPoP header even when the
// configured AllowHeaders lack it; an appUser token's answer, a refused
// proof's included, exposes WWW-Authenticate and DPoP-Nonce to the page.
func TestMiddlewareDPoPCORS(t *testing.T) {
	t.Parallel()
	const shop = "https://shop.example"
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	nonces, err := dpop.NewNonceSource([]byte(strings.Repeat("n", 32)), 5*time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := newDPoPFixture(t, verifier.DPoPConfig{Nonces: nonces, RequireNonce: func(context.Context, *verifier.Claims) bool { return true }})
	h := f.v.Middleware(verifier.MiddlewareOptions{CORS: &verifier.CORS{
		AllowOrigin:    func(_ context.Context, _, origin string) bool { return origin == shop },
		AllowPreflight: func(_ context.Context, origin string) bool { return origin == shop },
		AllowMethods:   []string{"POST"},
		AllowHeaders:   []string{"Authorization", "X-API-Key"},
	}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	pre := httptest.NewRequest(http.MethodOptions, resourceURL, nil)
	pre.Header.Set("Origin", shop)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "authorization, dpop, x-api-key")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	if rec.Header().Get("Access-Control-Allow-Origin") != shop || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "DPoP") {
		t.Fatalf("preflight asking for DPoP: %v", rec.Header())
	}

	r := request([]string{"DPoP " + f.bound}, f.client.proof(t, proofClaims(f.clk.Now(), f.bound)))
	r.Header.Set("Origin", shop)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 401 || rec.Header().Get("DPoP-Nonce") == "" || rec.Header().Get("Access-Control-Allow-Origin") != shop ||
		rec.Header().Get("Access-Control-Expose-Headers") != "WWW-Authenticate, DPoP-Nonce" {
		t.Fatalf("use_dpop_nonce to a browser: %d %v", rec.Code, rec.Header())
	}
}

// New refuses a DPoP configuration it could not use.
func TestNewDPoPConfig(t *testing.T) {
	t.Parallel()
	nonces, err := dpop.NewNonceSource([]byte(strings.Repeat("n", 32)), time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	always := func(context.Context, *verifier.Claims) bool { return true }
	for _, tc := range []struct {
		name string
		cfg  verifier.DPoPConfig
		ok   bool
	}{
		{"zero value", verifier.DPoPConfig{}, true},
		{"every option", verifier.DPoPConfig{BaseURL: "https://api.example.com/v1", Algorithms: []string{"ES256"}, Window: time.Minute,
			Replay: dpop.NewMemoryReplayCache(10, nil), Nonces: nonces, RequireNonce: always}, true},
		{"relative base URL", verifier.DPoPConfig{BaseURL: "/api"}, false},
		{"base URL with a query", verifier.DPoPConfig{BaseURL: "https://api.example.com/?a=b"}, false},
		{"base URL with userinfo", verifier.DPoPConfig{BaseURL: "https://u@api.example.com"}, false},
		{"ftp base URL", verifier.DPoPConfig{BaseURL: "ftp://api.example.com"}, false},
		{"base URL with an empty fragment", verifier.DPoPConfig{BaseURL: "https://api.example.com#"}, false},
		{"base URL with an empty query", verifier.DPoPConfig{BaseURL: "https://api.example.com?"}, false},
		{"base URL with an invalid port", verifier.DPoPConfig{BaseURL: "https://api.example.com:99999"}, false},
		{"RequireNonce without Nonces", verifier.DPoPConfig{RequireNonce: always}, false},
		{"HS256", verifier.DPoPConfig{Algorithms: []string{"HS256"}}, false},
		{"window over 5m", verifier.DPoPConfig{Window: 6 * time.Minute}, false},
	} {
		_, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, Keys: staticKeys{}, DPoP: tc.cfg})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

type staticKeys struct{}

func (staticKeys) Keys(context.Context, string) ([]jose.JSONWebKey, error) {
	return nil, verifier.ErrUnknownKey
}

// Every description fits a WWW-Authenticate quoted-string as RFC 6750 §3
// restricts error_description: printable ASCII but '"' and '\'.
func TestDescriptionsAreQuotable(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		verifier.ErrMalformed, verifier.ErrAlgorithm, verifier.ErrType, verifier.ErrSignature, verifier.ErrIssuer,
		verifier.ErrAudience, verifier.ErrExpired, verifier.ErrNotYetValid, verifier.ErrMissingClaims, verifier.ErrConfirmation,
		verifier.ErrBoundToken, verifier.ErrUnknownKey, verifier.ErrKeySetUnavailable, verifier.ErrNoToken, verifier.ErrAuthorization,
		verifier.ErrRequestURI, verifier.ErrUnboundToken, verifier.ErrKeyBinding, verifier.ErrProof, verifier.ErrProofUnavailable,
	} {
		d := verifier.Description(err)
		for _, r := range d {
			if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
				t.Errorf("Description(%v) = %q has %q", err, d, r)
			}
		}
	}
}
