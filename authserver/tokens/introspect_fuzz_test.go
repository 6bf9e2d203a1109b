package tokens

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"

	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

const fuzzIssuer = "https://issuer.test"

// fuzzIntrospector builds the introspection stack on the embedded
// database: a key manager with its first key, the client cache, the
// denylist, and one app. It returns genuine tokens of that app as seeds.
func fuzzIntrospector(t testing.TB) (*Introspector, *signingkeys.KeyManager, []string) {
	store, _ := storagetest.Embedded(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keyring, err := kek.NewKeyring(make([]byte, kek.Size))
	if err != nil {
		t.Fatal(err)
	}
	keys := signingkeys.NewKeyManager(store, keyring, audit.NewAuditor(store, time.Now, log), signingkeys.Config{Algorithm: signingkeys.ES256}, time.Now, log)
	if err := keys.Init(ctx); err != nil {
		t.Fatal(err)
	}
	clients := clients.NewCache(store, clients.CacheConfig{}, time.Now, log)
	if err := clients.Init(ctx); err != nil {
		t.Fatal(err)
	}
	revocations := NewRevocations(store, keys, RevocationConfig{}, time.Now, log)
	if err := revocations.Init(ctx); err != nil {
		t.Fatal(err)
	}
	app := storage.App{ID: "app_test_fuzz", Name: "fuzz", Environment: credential.EnvTest, Enabled: true,
		Secrets: []storage.Secret{{ID: "sec_fuzz", Digest: make([]byte, 32), Status: storage.SecretActive}}}
	if err := store.InsertApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	var seeds []string
	for _, c := range []jwt.MapClaims{
		{"iss": fuzzIssuer, "sub": app.ID, "aud": "https://api.test", "exp": now + 3600, "iat": now, "jti": "j1", "client_id": app.ID, "scope": "read", "credential_scope": CredentialScopeApp, "secret_id": "sec_fuzz"},
		{"iss": fuzzIssuer, "sub": app.ID, "aud": []string{"a", "b"}, "exp": now + 60, "jti": "j2", "client_id": app.ID},
		{"iss": fuzzIssuer, "sub": "user", "exp": now + 60, "jti": "j7", "client_id": app.ID, "cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}},
		{"iss": fuzzIssuer, "sub": app.ID, "exp": now - 1, "jti": "j3", "client_id": app.ID},
		{"iss": "https://other.test", "exp": now + 60, "jti": "j4", "client_id": app.ID},
		{"iss": fuzzIssuer, "exp": now + 60, "jti": "j5", "client_id": "app_test_unknown"},
		{"iss": fuzzIssuer, "exp": now + 60, "jti": "j6", "client_id": app.ID, "secret_id": "sec_gone"},
	} {
		payload, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := keys.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, tok)
	}
	return NewIntrospector(keys, clients, revocations, fuzzIssuer, time.Now), keys, seeds
}

// FuzzIntrospect feeds arbitrary strings to the verification path of
// introspection (KeyManager.Verify and the claim checks). Whatever the
// input: no panic, no error while the database is up, and "active" only
// for a token that go-jose itself verifies against the published keys,
// of this issuer, unexpired, whose claims are the ones reported.
func FuzzIntrospect(f *testing.F) {
	in, keys, seeds := fuzzIntrospector(f)
	for _, s := range seeds {
		f.Add(s)
		parts := strings.Split(s, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0In0.")
	var set jose.JSONWebKeySet
	body, _ := keys.JWKS()
	if err := json.Unmarshal(body, &set); err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	// The seeds reach both answers: the first three (the third
	// DPoP-bound) are active, the others (expired, other issuer, unknown
	// client, deleted secret) are not.
	for i, s := range seeds {
		res, err := in.Introspect(ctx, s)
		if err != nil || res.Active != (i < 3) {
			f.Fatalf("seed %d: active %v, err %v", i, res.Active, err)
		}
	}
	f.Fuzz(func(t *testing.T, token string) {
		_, verifyErr := keys.Verify(token)
		res, err := in.Introspect(ctx, token)
		if err != nil {
			t.Fatalf("introspect: %v", err)
		}
		if !res.Active {
			if res.ClientID != "" || res.JTI != "" || res.Scope != "" {
				t.Fatalf("inactive answer carries claims: %+v", res)
			}
			return
		}
		if verifyErr != nil {
			t.Fatalf("active, but Verify fails: %v", verifyErr)
		}
		jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil || len(jws.Signatures) != 1 {
			t.Fatalf("active, but go-jose cannot parse it: %v", err)
		}
		k := set.Key(jws.Signatures[0].Header.KeyID)
		if len(k) != 1 {
			t.Fatal("active, but its kid is not in the JWKS")
		}
		payload, err := jws.Verify(k[0].Key)
		if err != nil {
			t.Fatalf("active, but go-jose rejects the signature: %v", err)
		}
		var c struct {
			Iss      string  `json:"iss"`
			Exp      float64 `json:"exp"`
			JTI      string  `json:"jti"`
			ClientID string  `json:"client_id"`
			Cnf      struct {
				JKT string `json:"jkt"`
			} `json:"cnf"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatalf("active, but the payload is not JSON: %v", err)
		}
		if c.Iss != fuzzIssuer || int64(c.Exp) <= time.Now().Unix() || c.JTI != res.JTI || c.ClientID != res.ClientID {
			t.Fatalf("active with claims %+v, answer %+v", c, res)
		}
		// Bound to a key exactly when the token says so (RFC 9449 §6.2).
		bound := res.Confirmation != nil && res.Confirmation.JKT == c.Cnf.JKT && res.TokenType == TokenTypeDPoP
		if c.Cnf.JKT != "" && !bound || c.Cnf.JKT == "" && (res.Confirmation != nil || res.TokenType != TokenTypeBearer) {
			t.Fatalf("active with cnf %q, answer %+v", c.Cnf.JKT, res)
		}
	})
}
