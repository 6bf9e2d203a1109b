package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier/dpop"
)

// opaqueSigner hides a key's concrete type, as a key in an HSM or an agent
// does: NewProof may use only crypto.Signer's two methods.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, digest, opts)
}

// TestNewProofVerifies: the proofs NewProof makes, for every key type and
// algorithm, pass the package's own Verify (binding to the key's
// thumbprint, with ath and a required nonce) and, independently, go-jose's
// verification with the jwk of their header (crypto/ed25519 for RFC 9864's
// "Ed25519", which go-jose does not know), with exactly the header and
// claims RFC 9449 §4.2 asks for.
func TestNewProofVerifies(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	clk := newClock(testNow)
	nonces := newNonces(t, clk)
	const uri = "https://Server.Example.com/token?query=1#fragment"
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string // ProofParams.Algorithm
		want string // the proof's alg
	}{
		{"P-256 default", ks.es256.priv, "", "ES256"},
		{"P-256 behind crypto.Signer", opaqueSigner{ks.es256.priv}, "", "ES256"},
		{"Ed25519 default", ks.eddsa.priv, "", "EdDSA"},
		{"Ed25519 as Ed25519", ks.ed25519.priv, "Ed25519", "Ed25519"},
		{"RSA default", ks.rs256.priv, "", "RS256"},
		{"RSA PS256", ks.ps256.priv, "PS256", "PS256"},
		{"RSA PS256 behind crypto.Signer", opaqueSigner{ks.ps256.priv}, "PS256", "PS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proof, err := dpop.NewProof(tc.key, dpop.ProofParams{
				Method: "POST", URI: uri, AccessToken: accessToken, Nonce: nonces.Nonce(), Algorithm: tc.alg, Now: clk.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
			wantJKT := jktOf(t, tc.key.Public())

			v, _ := newVerifier(t, clk, nonces)
			got, err := v.Verify(context.Background(), dpop.Request{
				Proofs: []string{proof}, Method: "POST", URI: "https://server.example.com/token",
				AccessToken: accessToken, RequireNonce: true,
			})
			if err != nil || got.JKT != wantJKT || got.Algorithm != tc.want || got.IssuedAt.Unix() != testNow.Unix() {
				t.Fatalf("Verify: %+v, %v; want jkt %s alg %s", got, err, wantJKT, tc.want)
			}

			header, claims := goJoseVerify(t, proof, tc.key.Public())
			if header["typ"] != "dpop+jwt" || header["alg"] != tc.want || len(header) != 3 {
				t.Fatalf("header %v", header)
			}
			jwk, _ := json.Marshal(header["jwk"])
			var k jose.JSONWebKey
			if err := k.UnmarshalJSON(jwk); err != nil || !k.IsPublic() || jktOfJOSE(t, &k) != wantJKT {
				t.Fatalf("jwk %s: %v", jwk, err)
			}
			if claims["htm"] != "POST" || claims["htu"] != "https://Server.Example.com/token" ||
				claims["iat"] != float64(testNow.Unix()) || claims["ath"] != ath(accessToken) || claims["nonce"] != nonces.Nonce() {
				t.Fatalf("claims %v", claims)
			}
			if jti, _ := claims["jti"].(string); len(jti) != 22 {
				t.Fatalf("jti %q: want 128 bits, base64url", jti)
			}
			if len(claims) != 6 {
				t.Fatalf("claims %v: want jti, htm, htu, iat, ath and nonce only", claims)
			}
		})
	}
}

// A proof for a token request carries neither ath nor nonce; each proof
// has a jti of its own; the same proof is refused the second time.
func TestNewProofFresh(t *testing.T) {
	t.Parallel()
	clk := newClock(testNow)
	v, _ := newVerifier(t, clk, nil)
	key := testKeys().es256.priv
	seen := map[string]bool{}
	var last string
	for range 20 {
		proof, err := dpop.NewProof(key, dpop.ProofParams{Method: "POST", URI: tokenURI, Now: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		_, claims := goJoseVerify(t, proof, key.Public())
		if _, ok := claims["ath"]; ok {
			t.Fatalf("ath without an access token: %v", claims)
		}
		if _, ok := claims["nonce"]; ok {
			t.Fatalf("nonce without one given: %v", claims)
		}
		jti := claims["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %s twice", jti)
		}
		seen[jti] = true
		if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI}); err != nil {
			t.Fatalf("fresh proof: %v", err)
		}
		last = proof
	}
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{last}, Method: "POST", URI: tokenURI}); !errors.Is(err, dpop.ErrReplay) {
		t.Fatalf("replayed proof: %v", err)
	}
	// Without Now, iat is the real clock's.
	proof, err := dpop.NewProof(key, dpop.ProofParams{Method: "GET", URI: tokenURI})
	if err != nil {
		t.Fatal(err)
	}
	_, claims := goJoseVerify(t, proof, key.Public())
	if iat := int64(claims["iat"].(float64)); iat < time.Now().Add(-time.Minute).Unix() || iat > time.Now().Add(time.Minute).Unix() {
		t.Fatalf("iat %d is not the real clock's", iat)
	}
}

func TestNewProofRefuses(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := dpop.ProofParams{Method: "POST", URI: tokenURI}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		p    dpop.ProofParams
		says string
	}{
		{"no key", nil, good, "no key"},
		{"no method", ks.es256.priv, dpop.ProofParams{URI: tokenURI}, "Method"},
		{"method with a space", ks.es256.priv, dpop.ProofParams{Method: "PO ST", URI: tokenURI}, "Method"},
		{"relative URI", ks.es256.priv, dpop.ProofParams{Method: "POST", URI: "/token"}, "URI"},
		{"ftp URI", ks.es256.priv, dpop.ProofParams{Method: "POST", URI: "ftp://server.example.com/token"}, "URI"},
		{"userinfo", ks.es256.priv, dpop.ProofParams{Method: "POST", URI: "https://u:p@server.example.com/token"}, "URI"},
		{"P-384 key", p384, good, "P-256"},
		{"RSA 1024", rsa1024, good, "2048"},
		{"PS256 with a P-256 key", ks.es256.priv, dpop.ProofParams{Method: "POST", URI: tokenURI, Algorithm: "PS256"}, "does not fit"},
		{"ES256 with an RSA key", ks.rs256.priv, dpop.ProofParams{Method: "POST", URI: tokenURI, Algorithm: "ES256"}, "does not fit"},
		{"HS256", ks.rs256.priv, dpop.ProofParams{Method: "POST", URI: tokenURI, Algorithm: "HS256"}, "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proof, err := dpop.NewProof(tc.key, tc.p)
			if err == nil || proof != "" || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("NewProof = %q, %v; want an error saying %q", proof, err, tc.says)
			}
		})
	}
}

// goJoseVerify verifies proof independently of the package: go-jose's
// parser and verification with the jwk of the header, which must be the
// key pub, or crypto/ed25519 for the alg name go-jose does not know. It
// returns the protected header and the claims.
func goJoseVerify(t *testing.T, proof string, pub crypto.PublicKey) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatalf("proof has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(raw, &header) != nil {
		t.Fatalf("header %q: %v", raw, err)
	}
	var payload []byte
	if header["alg"] == "Ed25519" {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !ed25519.Verify(pub.(ed25519.PublicKey), []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("Ed25519 signature does not verify: %v", err)
		}
		payload, _ = base64.RawURLEncoding.DecodeString(parts[1])
	} else {
		jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256})
		if err != nil {
			t.Fatalf("go-jose parse: %v", err)
		}
		embedded := jws.Signatures[0].Protected.JSONWebKey
		if embedded == nil || !embedded.IsPublic() {
			t.Fatalf("no public jwk in the protected header")
		}
		if jktOfJOSE(t, embedded) != jktOf(t, pub) {
			t.Fatal("the jwk is not the signer's key")
		}
		if payload, err = jws.Verify(embedded); err != nil {
			t.Fatalf("go-jose verify: %v", err)
		}
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("claims %q: %v", payload, err)
	}
	return header, claims
}

// jktOf is go-jose's RFC 7638 thumbprint of pub, base64url.
func jktOf(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	return jktOfJOSE(t, &jose.JSONWebKey{Key: pub})
}

func jktOfJOSE(t *testing.T, k *jose.JSONWebKey) string {
	t.Helper()
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}
