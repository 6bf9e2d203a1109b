package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// Which registered JWK may verify which assertion alg: an Ed25519 key
// whose JWK names EdDSA, Ed25519 or nothing verifies both names of its
// algorithm (RFC 9864 §2.2) and nothing else; a JWK naming Ed25519 on any
// other key type verifies nothing.
func TestAssertionKeyFits(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(key any, alg, use string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: key, Algorithm: alg, Use: use}
	}
	tests := []struct {
		name string
		key  jose.JSONWebKey
		alg  string
		want bool
	}{
		{"Ed25519 JWK, Ed25519 JWS", jwk(edPub, "Ed25519", ""), "Ed25519", true},
		{"Ed25519 JWK, EdDSA JWS", jwk(edPub, "Ed25519", "sig"), "EdDSA", true},
		{"EdDSA JWK, Ed25519 JWS", jwk(edPub, "EdDSA", ""), "Ed25519", true},
		{"EdDSA JWK, EdDSA JWS", jwk(edPub, "EdDSA", ""), "EdDSA", true},
		{"Ed25519 key without alg, Ed25519 JWS", jwk(edPub, "", ""), "Ed25519", true},
		{"Ed25519 key without alg, EdDSA JWS", jwk(edPub, "", ""), "EdDSA", true},
		{"Ed25519 JWK for encryption", jwk(edPub, "Ed25519", "enc"), "Ed25519", false},
		{"Ed25519 JWK, RS256 JWS", jwk(edPub, "Ed25519", ""), "RS256", false},
		{"Ed25519 JWK, ES256 JWS", jwk(edPub, "Ed25519", ""), "ES256", false},
		{"Ed25519 JWK, HS256 JWS", jwk(edPub, "Ed25519", ""), "HS256", false},
		{"Ed25519 key with alg ES256, Ed25519 JWS", jwk(edPub, "ES256", ""), "Ed25519", false},
		{"RSA key with alg Ed25519, RS256 JWS", jwk(&rsaKey.PublicKey, "Ed25519", ""), "RS256", false},
		{"RSA key with alg Ed25519, Ed25519 JWS", jwk(&rsaKey.PublicKey, "Ed25519", ""), "Ed25519", false},
		{"RSA key without alg, Ed25519 JWS", jwk(&rsaKey.PublicKey, "", ""), "Ed25519", false},
		{"P-256 key without alg, Ed25519 JWS", jwk(&ecKey.PublicKey, "", ""), "Ed25519", false},
		{"P-256 key, ES256 JWS", jwk(&ecKey.PublicKey, "ES256", ""), "ES256", true},
		{"RSA key, RS256 JWS", jwk(&rsaKey.PublicKey, "RS256", ""), "RS256", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := assertionKeyFits(tc.key, tc.alg); got != tc.want {
				t.Fatalf("assertionKeyFits = %v, want %v", got, tc.want)
			}
		})
	}
}

// ed25519Verifier checks the signature under either name and no other alg.
func TestEd25519Verifier(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("header.payload")
	sig := ed25519.Sign(priv, msg)
	v := ed25519Verifier{pub: pub}
	for _, tc := range []struct {
		name string
		msg  []byte
		sig  []byte
		alg  jose.SignatureAlgorithm
		ok   bool
	}{
		{"Ed25519", msg, sig, "Ed25519", true},
		{"EdDSA", msg, sig, jose.EdDSA, true},
		{"another alg", msg, sig, jose.RS256, false},
		{"another message", []byte("header.other"), sig, "Ed25519", false},
		{"short signature", msg, sig[:63], "Ed25519", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.VerifyPayload(tc.msg, tc.sig, tc.alg); (err == nil) != tc.ok {
				t.Fatalf("VerifyPayload: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
