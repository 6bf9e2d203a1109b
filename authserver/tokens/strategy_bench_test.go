package tokens_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/storage/storagetest"
)

// The hot paths of a token request, one by one, on the embedded FerretDB
// (touched only to fill the caches before the timer starts). Run with
//
//	go test ./authserver/... -run '^$' -bench . -benchmem
//
// test/token_bench_test.go measures the whole request through the HTTP
// handler, and test/load the server under load.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// benchKeys returns a key manager with one active key of alg, on a
// database of its own.
func benchKeys(b *testing.B, alg string) *signingkeys.KeyManager {
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
	keys := signingkeys.NewKeyManager(store, ring, audit.NewAuditor(store, time.Now, quiet), signingkeys.Config{Algorithm: alg}, time.Now, quiet)
	if err := keys.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	return keys
}

// benchClaims are the claims of a typical client credentials token.
func benchClaims() *tokens.AccessTokenClaims {
	now := time.Now().UTC().Truncate(time.Second)
	return &tokens.AccessTokenClaims{
		Issuer: "https://auth.example.com", Subject: "app_live_4Yd0QnS1bK3hZr8vT2mWxE", ClientID: "app_live_4Yd0QnS1bK3hZr8vT2mWxE",
		Audience: []string{"https://api.example.com"}, Scope: []string{"read"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), JTI: "q3Jw0b7yFv8P1x2mZt9RkA",
		CredentialScope: tokens.CredentialScopeApp, SecretID: "sec_8hT4mQ2vX9bL1nR5z",
	}
}

var algs = []string{signingkeys.RS256, signingkeys.ES256, signingkeys.EdDSA}

// BenchmarkAccessTokenStrategy is the token of a granted request: the
// session's claims completed, rendered without a map and signed.
func BenchmarkAccessTokenStrategy(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			strategy := tokens.NewAccessTokenStrategy(benchKeys(b, alg), "https://auth.example.com")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				sess := tokens.NewSession()
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
