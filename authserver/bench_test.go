package authserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// The hot paths of a token request, one by one, on the embedded FerretDB
// (touched only to fill the caches before the timer starts). Run with
//
//	go test ./authserver -run '^$' -bench . -benchmem
//
// test/token_bench_test.go measures the whole request through the HTTP
// handler, and test/load the server under load.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// benchKeys returns a key manager with one active key of alg, on a
// database of its own.
func benchKeys(b *testing.B, alg string) *authserver.KeyManager {
	b.Helper()
	store, _ := storagetest.Embedded(b)
	raw, err := kek.Parse(kek.New())
	if err != nil {
		b.Fatal(err)
	}
	ring, err := kek.NewKeyring(raw)
	if err != nil {
		b.Fatal(err)
	}
	keys := authserver.NewKeyManager(store, ring, authserver.NewAuditor(store, time.Now, quiet), authserver.KeyConfig{Algorithm: alg}, time.Now, quiet)
	if err := keys.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	return keys
}

// benchClaims are the claims of a typical client credentials token.
func benchClaims() *authserver.AccessTokenClaims {
	now := time.Now().UTC().Truncate(time.Second)
	return &authserver.AccessTokenClaims{
		Issuer: "https://auth.example.com", Subject: "app_live_4Yd0QnS1bK3hZr8vT2mWxE", ClientID: "app_live_4Yd0QnS1bK3hZr8vT2mWxE",
		Audience: []string{"https://api.example.com"}, Scope: []string{"read"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), JTI: "q3Jw0b7yFv8P1x2mZt9RkA",
		CredentialScope: authserver.ScopeApp, SecretID: "sec_8hT4mQ2vX9bL1nR5z",
	}
}

var algs = []string{authserver.RS256, authserver.ES256, authserver.EdDSA}

// BenchmarkSign is KeyManager.Sign: the JWS of a typical token's claims,
// already rendered, with the active key's header, compact serialization.
func BenchmarkSign(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			keys := benchKeys(b, alg)
			payload, err := json.Marshal(benchClaims().ToMapClaims())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keys.Sign(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is KeyManager.Verify and the claims decoded: what
// introspection and revocation do with a token, the header looked up among
// the published keys' and the signature checked.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			keys := benchKeys(b, alg)
			payload, err := json.Marshal(benchClaims().ToMapClaims())
			if err != nil {
				b.Fatal(err)
			}
			token, err := keys.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				payload, err := keys.Verify(token)
				if err != nil {
					b.Fatal(err)
				}
				var claims map[string]any
				if err := json.Unmarshal(payload, &claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccessTokenStrategy is the token of a granted request: the
// session's claims completed, rendered without a map and signed.
func BenchmarkAccessTokenStrategy(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			strategy := authserver.NewAccessTokenStrategy(benchKeys(b, alg), "https://auth.example.com")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				sess := authserver.NewSession()
				sess.Claims = *benchClaims()
				sess.SetExpiresAt(fosite.AccessToken, sess.Claims.ExpiresAt)
				req := fosite.NewAccessRequest(sess)
				req.GrantScope("read")
				req.GrantAudience("https://api.example.com")
				if _, _, err := strategy.GenerateAccessToken(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClientAuthenticate is client_secret_basic against a cached app:
// parameter checks, Basic decoding, the SHA-256 digest and the
// constant-time comparison, the usage record.
func BenchmarkClientAuthenticate(b *testing.B) {
	store, _ := storagetest.Embedded(b)
	ctx := context.Background()
	secret := credential.NewSecret(credential.EnvLive)
	d := credential.Digest(secret)
	app := storage.App{
		ID: credential.NewAppID(credential.EnvLive), Name: "bench", Environment: credential.EnvLive, Enabled: true,
		Scopes: []string{"read"}, Secrets: []storage.Secret{{ID: "sec_bench", Digest: d[:], Prefix: "sk_live_", Last4: "abcd",
			Status: storage.SecretActive, CreatedAt: time.Now().UTC()}},
	}
	if err := store.InsertApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	clients := authserver.NewClientCache(store, authserver.ClientCacheConfig{}, time.Now, quiet)
	if err := clients.Init(ctx); err != nil {
		b.Fatal(err)
	}
	usage := authserver.NewUsageRecorder(store, time.Hour, quiet)
	auth := authserver.NewClientAuthenticator(clients, usage, time.Now)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	r.SetBasicAuth(url.QueryEscape(app.ID), url.QueryEscape(secret))
	if _, err := auth.Authenticate(ctx, r, form); err != nil { // fills the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := auth.Authenticate(ctx, r, form)
		if err != nil || c.GetID() != app.ID {
			b.Fatalf("authenticate: %v", err)
		}
	}
}
