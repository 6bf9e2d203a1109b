package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The proofs of these tests are made by signers independent of the code
// under test: go-jose v4's (jose.NewSigner, which embeds the public jwk and
// takes typ and any override through ExtraHeaders), and, for RFC 9864's
// "Ed25519" alg name that go-jose does not know and for headers or claims
// that are not valid JSON objects, a JWS assembled here by hand and signed
// with crypto/ed25519.

// testNow is the clock of most tests.
var testNow = time.Unix(1_800_000_000, 0)

const (
	// rfcJKT is the thumbprint RFC 9449 §6.1 gives for the key of its
	// example proofs.
	rfcJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	// base64URL is the base64url alphabet (RFC 4648 §5).
	base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKey is a client's DPoP key pair and the alg it signs proofs with.
type testKey struct {
	alg  string
	priv crypto.Signer
}

func (k *testKey) public() crypto.PublicKey { return k.priv.Public() }

// jwk returns the public key as a JWK object, rendered by go-jose.
func (k *testKey) jwk(t testing.TB) map[string]any {
	t.Helper()
	return jwkOf(t, k.public())
}

// jwkOf renders any key, private ones included, as a JWK object through
// go-jose.
func jwkOf(t testing.TB, key any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		t.Fatalf("marshal jwk: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// thumbprint is go-jose's RFC 7638 thumbprint of the key, base64url.
func (k *testKey) thumbprint(t testing.TB) string {
	t.Helper()
	sum, err := (&jose.JSONWebKey{Key: k.public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// keys are one key per algorithm, made once for the test binary (RSA key
// generation is slow on a shared machine).
type keys struct {
	es256, eddsa, ed25519, rs256, ps256 *testKey
}

var testKeys = sync.OnceValue(func() *keys {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed2, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return &keys{
		es256:   &testKey{alg: "ES256", priv: ec},
		eddsa:   &testKey{alg: "EdDSA", priv: ed},
		ed25519: &testKey{alg: "Ed25519", priv: ed2},
		rs256:   &testKey{alg: "RS256", priv: rs},
		ps256:   &testKey{alg: "PS256", priv: rs},
	}
})

func (ks *keys) all() []*testKey {
	return []*testKey{ks.es256, ks.eddsa, ks.ed25519, ks.rs256, ks.ps256}
}

// sign returns a DPoP proof of claims signed by k: protected header alg
// (k's), typ dpop+jwt and k's public jwk, then header, whose members
// replace or add to those.
func sign(t testing.TB, k *testKey, claims map[string]any, header map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	if k.alg == "Ed25519" {
		h := map[string]any{"typ": "dpop+jwt", "alg": "Ed25519", "jwk": k.jwk(t)}
		maps.Copy(h, header)
		hdr, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		return signRaw(k.priv.(ed25519.PrivateKey), hdr, payload)
	}
	extra := map[jose.HeaderKey]any{"typ": "dpop+jwt"}
	for name, v := range header {
		extra[jose.HeaderKey(name)] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv},
		&jose.SignerOptions{EmbedJWK: true, ExtraHeaders: extra})
	if err != nil {
		t.Fatalf("new signer %s: %v", k.alg, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signRaw assembles a compact JWS by hand from header and payload bytes,
// taken as they are, and signs it with Ed25519.
func signRaw(key ed25519.PrivateKey, header, payload []byte) string {
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return input + "." + b64.EncodeToString(ed25519.Sign(key, []byte(input)))
}
