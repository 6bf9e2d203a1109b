package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver/authserver/verifier"
)

const (
	issuer   = "https://auth.example.com"
	audience = "https://api.example.com"
)

// clock is a settable clock for the verifier and the key set.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksServer serves a JWKS with a Cache-Control header and an ETag, counts
// requests, and answers 304 to a matching If-None-Match.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	keys         jose.JSONWebKeySet
	cacheControl string
	requests     int
	conditional  int
}

func newJWKSServer(t testing.TB, cacheControl string, keys ...jose.JSONWebKey) *jwksServer {
	s := &jwksServer{cacheControl: cacheControl, keys: jose.JSONWebKeySet{Keys: keys}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests++
		body, _ := json.Marshal(s.keys)
		etag := `"` + string(rune('a'+len(s.keys.Keys))) + `"`
		w.Header().Set("Cache-Control", s.cacheControl)
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			s.conditional++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...jose.JSONWebKey) {
	s.mu.Lock()
	s.keys = jose.JSONWebKeySet{Keys: keys}
	s.mu.Unlock()
}

func (s *jwksServer) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

type signingKey struct {
	priv any
	pub  jose.JSONWebKey
	alg  jose.SignatureAlgorithm
}

func newRSAKey(t testing.TB, kid string) signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: k, pub: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}, alg: jose.RS256}
}

func newECKey(t *testing.T, kid string) signingKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: k, pub: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}, alg: jose.ES256}
}

// sign makes a token with go-jose, as an authorization server would
// (ECDSA signatures low-S, as ours are).
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
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
	return withS(t, tok, false)
}

func baseClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": issuer, "aud": audience, "sub": "user-1", "client_id": "app_test_1",
		"jti": "j1", "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"scope": "read write", "credential_scope": "appUser",
	}
}

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

// noneToken builds an unsigned token by hand: go-jose refuses to make one.
func noneToken(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "at+jwt", "kid": "k1"}) + "." + enc(claims) + "."
}

func TestVerify(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	now := clk.Now()
	rsaKey := newRSAKey(t, "k1")
	ecKey := newECKey(t, "k2")
	other := newRSAKey(t, "k1") // same kid, another key: another issuer
	srv := newJWKSServer(t, "public, max-age=300", rsaKey.pub, ecKey.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The RSA public key as the HMAC secret: the classic algorithm
	// confusion attack.
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.priv.(*rsa.PrivateKey).PublicKey)

	good := sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", baseClaims(now))
	claims, err := v.Verify(context.Background(), good)
	if err != nil {
		t.Fatalf("valid RS256 token: %v", err)
	}
	if claims.Subject != "user-1" || claims.ClientID != "app_test_1" || claims.CredentialScope != verifier.CredentialScopeAppUser ||
		!claims.HasScope("write") || claims.HasScope("admin") || claims.ExpiresAt.Unix() != now.Add(15*time.Minute).Unix() {
		t.Fatalf("claims %+v", claims)
	}
	if _, err := v.Verify(context.Background(), sign(t, jose.ES256, ecKey.priv, "k2", "application/at+jwt", baseClaims(now))); err != nil {
		t.Fatalf("valid ES256 token: %v", err)
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "exp", now.Add(-time.Minute).Unix())), verifier.ErrExpired},
		{"not yet valid", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "nbf", now.Add(5*time.Minute).Unix())), verifier.ErrNotYetValid},
		{"issued in the future", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "iat", now.Add(5*time.Minute).Unix())), verifier.ErrNotYetValid},
		{"wrong audience", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "aud", "https://other.example")), verifier.ErrAudience},
		{"another issuer", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "iss", "https://evil.example")), verifier.ErrIssuer},
		{"another issuer's key", sign(t, jose.RS256, other.priv, "k1", "at+jwt", baseClaims(now)), verifier.ErrSignature},
		{"unknown kid", sign(t, jose.RS256, rsaKey.priv, "nope", "at+jwt", baseClaims(now)), verifier.ErrUnknownKey},
		{"alg none", noneToken(baseClaims(now)), verifier.ErrAlgorithm},
		{"HS256 with the RSA public key", sign(t, jose.HS256, pubDER, "k1", "at+jwt", baseClaims(now)), verifier.ErrAlgorithm},
		{"ES256 header on the RSA kid", sign(t, jose.ES256, ecKey.priv, "k1", "at+jwt", baseClaims(now)), verifier.ErrSignature},
		{"typ JWT", sign(t, jose.RS256, rsaKey.priv, "k1", "JWT", baseClaims(now)), verifier.ErrType},
		{"no typ", sign(t, jose.RS256, rsaKey.priv, "k1", "", baseClaims(now)), verifier.ErrType},
		{"no jti", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "jti", nil)), verifier.ErrMissingClaims},
		{"no exp", sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "exp", nil)), verifier.ErrMissingClaims},
		{"garbage", "a.b.c", verifier.ErrMalformed},
		{"JWS JSON serialization", `{"payload":"e30","signatures":[]}`, verifier.ErrMalformed},
		{"oversized", strings.Repeat("a", 20<<10), verifier.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// Leeway: 20s past exp still passes, 40s does not (default 30s).
	edge := sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "exp", now.Add(-20*time.Second).Unix()))
	if _, err := v.Verify(context.Background(), edge); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	edge = sign(t, jose.RS256, rsaKey.priv, "k1", "at+jwt", with(baseClaims(now), "exp", now.Add(-40*time.Second).Unix()))
	if _, err := v.Verify(context.Background(), edge); !errors.Is(err, verifier.ErrExpired) {
		t.Fatalf("past leeway: %v", err)
	}
}

// The JWKS is fetched once and kept for its Cache-Control max-age; an
// unknown kid refetches at most once per RefetchInterval; an expired copy
// is revalidated with If-None-Match; a key published later is found by
// the refetch an unknown kid causes.
func TestKeySetCaching(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	k1, k2 := newRSAKey(t, "k1"), newECKey(t, "k2")
	srv := newJWKSServer(t, "public, max-age=120", k1.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now,
		KeySet: verifier.KeySetOptions{RefetchInterval: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(k signingKey, kid string) error {
		_, err := v.Verify(context.Background(), sign(t, k.alg, k.priv, kid, "at+jwt", baseClaims(clk.Now())))
		return err
	}
	for range 5 {
		if err := verify(k1, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("5 verifications fetched the JWKS %d times, want 1", n)
	}
	// Unknown kid: one refetch, then rate-limited.
	clk.Advance(15 * time.Second)
	for range 3 {
		if err := verify(k2, "k2"); !errors.Is(err, verifier.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := srv.count(); n != 2 {
		t.Fatalf("3 unknown-kid tokens fetched %d times in all, want 2", n)
	}
	// The issuer publishes k2; after the rate-limit interval the unknown
	// kid refetches and finds it.
	srv.setKeys(k1.pub, k2.pub)
	if err := verify(k2, "k2"); !errors.Is(err, verifier.ErrUnknownKey) {
		t.Fatalf("within the refetch interval: %v", err)
	}
	clk.Advance(10 * time.Second)
	if err := verify(k2, "k2"); err != nil {
		t.Fatalf("after the refetch interval: %v", err)
	}
	if n := srv.count(); n != 3 {
		t.Fatalf("fetches %d, want 3", n)
	}
	// Past max-age: revalidated with If-None-Match, answered 304.
	clk.Advance(121 * time.Second)
	if err := verify(k1, "k1"); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	requests, conditional := srv.requests, srv.conditional
	srv.mu.Unlock()
	// Conditional: the unknown-kid refetch of an unchanged set, and this.
	if requests != 4 || conditional != 2 {
		t.Fatalf("requests %d conditional %d, want 4 and 2", requests, conditional)
	}
}

// no-store is floored at MinTTL: a misconfigured issuer cannot make every
// request a fetch.
func TestKeySetMinTTL(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	k := newRSAKey(t, "k1")
	srv := newJWKSServer(t, "no-store", k.pub)
	ks := verifier.NewRemoteKeySet(srv.URL, verifier.KeySetOptions{MinTTL: time.Minute, Now: clk.Now})
	for range 3 {
		if _, err := ks.Keys(context.Background(), "k1"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Second)
	}
	if srv.count() != 1 {
		t.Fatalf("fetched %d times within MinTTL", srv.count())
	}
	clk.Advance(time.Minute)
	if _, err := ks.Keys(context.Background(), "k1"); err != nil || srv.count() != 2 {
		t.Fatalf("after MinTTL: %v, %d fetches", err, srv.count())
	}
}

// A JWKS that cannot be fetched is ErrKeySetUnavailable; symmetric keys
// in a JWKS are never used.
func TestKeySetFailures(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	ks := verifier.NewRemoteKeySet(down.URL, verifier.KeySetOptions{})
	if _, err := ks.Keys(context.Background(), "k1"); !errors.Is(err, verifier.ErrKeySetUnavailable) {
		t.Fatalf("down: %v", err)
	}
	keys, err := verifier.ParseJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},{"kty":"weird","kid":"w"}]}`))
	if err != nil || len(keys) != 0 {
		t.Fatalf("symmetric or unknown keys kept: %v %v", keys, err)
	}
	if _, err := verifier.ParseJWKS([]byte(`[1,2]`)); err == nil {
		t.Fatal("a JSON array parsed as a JWKS")
	}
}

func TestNewRefusesSymmetricAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "none", "RS1"} {
		if _, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, Algorithms: []string{alg}}); err == nil {
			t.Errorf("%s accepted", alg)
		}
	}
	if _, err := verifier.New(verifier.Config{Issuer: issuer}); err == nil {
		t.Error("no audience accepted")
	}
}

func TestMiddleware(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	k := newRSAKey(t, "k1")
	srv := newJWKSServer(t, "max-age=300", k.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	const shop = "https://shop.example"
	mw := v.Middleware(verifier.MiddlewareOptions{
		Realm:            "api",
		Cookie:           "tok",
		CredentialScopes: []string{verifier.CredentialScopeApp, verifier.CredentialScopeAppUser},
		CORS: &verifier.CORS{
			AllowOrigin: func(_ context.Context, clientID, origin string) bool {
				return clientID == "app_test_1" && origin == shop
			},
			AllowPreflight:   func(_ context.Context, origin string) bool { return origin == shop },
			AllowHeaders:     []string{"Authorization", "X-API-Key"},
			AllowCredentials: true,
		},
	})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject))
	}))
	token := func(scope string) string {
		return sign(t, jose.RS256, k.priv, "k1", "at+jwt", with(baseClaims(clk.Now()), "credential_scope", scope))
	}
	type want struct {
		status int
		acao   string
		wwwErr string
	}
	tests := []struct {
		name   string
		method string
		header map[string]string
		cookie string
		want   want
	}{
		{"appUser from an allowed origin", "POST", map[string]string{"Authorization": "Bearer " + token("appUser"), "Origin": shop}, "", want{200, shop, ""}},
		{"appUser from another origin", "POST", map[string]string{"Authorization": "Bearer " + token("appUser"), "Origin": "https://evil.example"}, "", want{200, "", ""}},
		{"app token from an allowed origin", "POST", map[string]string{"Authorization": "Bearer " + token("app"), "Origin": shop}, "", want{200, "", ""}},
		{"account token", "POST", map[string]string{"Authorization": "Bearer " + token("account"), "Origin": shop}, "", want{403, "", "insufficient_scope"}},
		{"token in the cookie", "POST", map[string]string{"Origin": shop}, token("appUser"), want{200, shop, ""}},
		{"no token", "POST", nil, "", want{401, "", "-"}},
		{"bad token", "POST", map[string]string{"Authorization": "Bearer x.y.z", "Origin": shop}, "", want{401, "", "invalid_token"}},
		{"preflight from an allowed origin", "OPTIONS", map[string]string{"Origin": shop, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, x-api-key"}, "", want{204, shop, ""}},
		{"preflight from another origin", "OPTIONS", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, "", want{204, "", ""}},
		{"preflight asking for another header", "OPTIONS", map[string]string{"Origin": shop, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-admin"}, "", want{204, "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/profile", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "tok", Value: tc.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want.status || rec.Header().Get("Access-Control-Allow-Origin") != tc.want.acao {
				t.Fatalf("status %d ACAO %q, want %d %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), tc.want.status, tc.want.acao)
			}
			www := rec.Header().Get("WWW-Authenticate")
			switch tc.want.wwwErr {
			case "":
			case "-":
				if www != `Bearer realm="api"` {
					t.Fatalf("WWW-Authenticate %q", www)
				}
			default:
				if !strings.Contains(www, `error="`+tc.want.wwwErr+`"`) {
					t.Fatalf("WWW-Authenticate %q", www)
				}
			}
			if tc.want.acao != "" && rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
				t.Fatal("no Access-Control-Allow-Credentials")
			}
		})
	}
}

// BenchmarkVerify measures the offline verification of an RS256 token with
// a warm JWKS cache.
func BenchmarkVerify(b *testing.B) {
	k := newRSAKey(b, "k1")
	srv := newJWKSServer(b, "max-age=300", k.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	tok := sign(b, jose.RS256, k.priv, "k1", "at+jwt", baseClaims(time.Now()))
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
