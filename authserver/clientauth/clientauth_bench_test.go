package clientauth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver/clientauth"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// The hot paths of a token request, one by one, on the embedded FerretDB
// (touched only to fill the caches before the timer starts). Run with
//
//	go test ./authserver/... -run '^$' -bench . -benchmem
//
// test/token_bench_test.go measures the whole request through the HTTP
// handler, and test/load the server under load.

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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache := clients.NewCache(store, clients.CacheConfig{}, time.Now, log)
	if err := cache.Init(ctx); err != nil {
		b.Fatal(err)
	}
	usage := clients.NewUsageRecorder(store, time.Hour, log)
	auth := clientauth.NewAuthenticator(cache, usage, time.Now)
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
