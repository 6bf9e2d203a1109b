package authserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestPasswordHash(t *testing.T) {
	h := newPasswordHasher()
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(enc, "correct horse") {
		t.Fatalf("hash %q", enc)
	}
	again, _ := h.Hash(ctx, "correct horse")
	if again == enc {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		name, encoded, password string
		want                    bool
	}{
		{"right password", enc, "correct horse", true},
		{"wrong password", enc, "correct horsf", false},
		{"empty password", enc, "", false},
		{"no such user", "", "correct horse", false},
		{"not argon2id", "$2a$10$abcdefghijklmnopqrstuv", "correct horse", false},
		{"absurd memory", strings.Replace(enc, "m=19456", "m=99999999", 1), "correct horse", false},
		{"truncated", enc[:len(enc)-10], "correct horse", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.Verify(ctx, tc.encoded, tc.password)
			if err != nil || got != tc.want {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
	// A cancelled context is refused when no slot is free.
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Verify(cctx, enc, "correct horse"); err == nil {
		t.Fatal("Verify ran with every slot taken and a cancelled context")
	}
}

func TestCheckJWKSURI(t *testing.T) {
	tests := []struct {
		uri      string
		loopback bool
		ok       bool
	}{
		{"https://keys.example.com/jwks.json", false, true},
		{"http://keys.example.com/jwks.json", false, false},
		{"http://127.0.0.1:8080/jwks.json", false, false},
		{"http://127.0.0.1:8080/jwks.json", true, true},
		{"http://localhost/jwks.json", true, true},
		{"http://10.0.0.1/jwks.json", true, false},
		{"https://user:pass@keys.example.com/jwks.json", false, false},
		{"https://keys.example.com/jwks.json#frag", false, false},
		{"/relative", false, false},
		{"file:///etc/passwd", false, false},
	}
	for _, tc := range tests {
		if err := CheckJWKSURI(tc.uri, tc.loopback); (err == nil) != tc.ok {
			t.Errorf("%s (loopback %v): %v, want ok=%v", tc.uri, tc.loopback, err, tc.ok)
		}
	}
}

func TestNormalizeJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	set := func(keys ...jose.JSONWebKey) json.RawMessage {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pub := func(k any, kid, alg string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: alg, Use: "sig"}
	}
	tests := []struct {
		name string
		raw  json.RawMessage
		ok   bool
	}{
		{"RSA and EC public keys", set(pub(&rsaKey.PublicKey, "r", "RS256"), pub(&ecKey.PublicKey, "e", "ES256")), true},
		{"RSA key without alg", set(pub(&rsaKey.PublicKey, "r", "")), true},
		{"private key", set(pub(rsaKey, "r", "RS256")), false},
		{"symmetric key", json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h","alg":"HS256"}]}`), false},
		{"1024-bit RSA", set(pub(&smallRSA.PublicKey, "r", "RS256")), false},
		{"P-384 key", set(pub(&p384.PublicKey, "p", "ES384")), false},
		{"alg does not fit the key", set(pub(&ecKey.PublicKey, "e", "RS256")), false},
		{"no kid", set(pub(&rsaKey.PublicKey, "", "RS256")), false},
		{"duplicate kid", set(pub(&rsaKey.PublicKey, "k", "RS256"), pub(&ecKey.PublicKey, "k", "ES256")), false},
		{"encryption key", json.RawMessage(strings.Replace(string(set(pub(&rsaKey.PublicKey, "r", "RS256"))), `"use":"sig"`, `"use":"enc"`, 1)), false},
		{"empty set", json.RawMessage(`{"keys":[]}`), false},
		{"not a set", json.RawMessage(`[1]`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := normalizeJWKS(tc.raw)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err == nil && strings.Contains(string(out), `"d"`) {
				t.Fatal("a private parameter survived")
			}
		})
	}
	if out, err := normalizeJWKS(json.RawMessage("null")); out != nil || err != nil {
		t.Fatalf("null: %s %v", out, err)
	}
}

func TestCookieSecure(t *testing.T) {
	for issuer, want := range map[string]bool{
		"https://auth.example.com": true,
		"http://localhost:8080":    false,
		"http://127.0.0.1:9000":    false,
		"http://[::1]:9000":        false,
		"http://auth.example.com":  true,
		"http://192.168.1.5":       true,
	} {
		if got := CookieSecure(issuer); got != want {
			t.Errorf("%s: %v, want %v", issuer, got, want)
		}
	}
	if UserTokenCookie("https://a.example") != "__Host-authserver_token" || UserTokenCookie("http://localhost") != "authserver_token" {
		t.Error("cookie names")
	}
}

func TestInferCustomerGrant(t *testing.T) {
	for params, want := range map[string]string{
		"assertion":            GrantTypeJWTBearer,
		"assertion username":   GrantTypeJWTBearer,
		"username password":    GrantTypeTestUser,
		"customer_id":          GrantTypeDelegated,
		"client_id scope":      "",
		"username customer_id": GrantTypeTestUser,
	} {
		has := func(p string) bool { return strings.Contains(" "+params+" ", " "+p+" ") }
		if got := InferCustomerGrant(has); got != want {
			t.Errorf("%q: %q, want %q", params, got, want)
		}
	}
}

// BenchmarkPasswordVerify measures one argon2id check of a test-user login
// (19 MiB, t=2, p=1).
func BenchmarkPasswordVerify(b *testing.B) {
	h := newPasswordHasher()
	enc, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := h.Verify(context.Background(), enc, "correct horse"); !ok {
			b.Fatal("no match")
		}
	}
}
