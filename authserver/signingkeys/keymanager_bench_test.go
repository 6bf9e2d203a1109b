package signingkeys_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/storage/storagetest"
)

// The hot paths of a token request, one by one, on the embedded FerretDB
// (touched only to fill the caches before the timer starts). Run with
//
//	go test ./authserver/... -run '^$' -bench . -benchmem
//
// test/token_bench_test.go measures the whole request through the HTTP
// handler, and test/load the server under load.

// newKeyManager returns a key manager with one active key of alg, on a
// database of its own.
func newKeyManager(b *testing.B, alg string) *signingkeys.KeyManager {
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys := signingkeys.NewKeyManager(store, ring, audit.NewAuditor(store, time.Now, log), signingkeys.Config{Algorithm: alg}, time.Now, log)
	if err := keys.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	return keys
}

// benchPayload are the claims of a typical client credentials token, as
// the token endpoint renders them.
var benchPayload = []byte(`{"aud":"https://api.example.com","client_id":"app_live_4Yd0QnS1bK3hZr8vT2mWxE","credential_scope":"app",` +
	`"exp":1800003600,"iat":1800000000,"iss":"https://auth.example.com","jti":"q3Jw0b7yFv8P1x2mZt9RkA","scope":"read",` +
	`"secret_id":"sec_8hT4mQ2vX9bL1nR5z","sub":"app_live_4Yd0QnS1bK3hZr8vT2mWxE"}`)

// BenchmarkSign is KeyManager.Sign: the JWS of a typical token's claims,
// already rendered, with the active key's header, compact serialization.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{signingkeys.RS256, signingkeys.ES256, signingkeys.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			keys := newKeyManager(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keys.Sign(benchPayload); err != nil {
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
	for _, alg := range []string{signingkeys.RS256, signingkeys.ES256, signingkeys.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			keys := newKeyManager(b, alg)
			token, err := keys.Sign(benchPayload)
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
