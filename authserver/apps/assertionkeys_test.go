package apps

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

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
