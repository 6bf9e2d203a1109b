package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier"
)

// FuzzVerify feeds arbitrary strings to the verifier's JWT parsing, with a
// real JWKS over HTTP holding an RS256 and an ES256 key. Whatever the
// input: no panic, and a token is accepted only if go-jose itself verifies
// it with the key its kid names, from this issuer, for this audience, not
// expired, with the claims Verify reports.
func FuzzVerify(f *testing.F) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	now := clk.Now()
	rsaKey := newRSAKey(f, "k1")
	ecKey := newFuzzECKey(f, "k2")
	srv := newJWKSServer(f, "max-age=300", rsaKey.pub, ecKey.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	base := baseClaims(now)
	valid := []string{
		sign(f, rsaKey.alg, rsaKey.priv, "k1", "at+jwt", base),
		sign(f, ecKey.alg, ecKey.priv, "k2", "application/at+jwt", with(base, "aud", []string{"x", audience}, "nbf", now.Unix())),
	}
	for _, tok := range valid {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			f.Fatalf("seed does not verify: %v", err)
		}
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	for _, tok := range []string{
		sign(f, rsaKey.alg, rsaKey.priv, "k1", "at+jwt", with(base, "exp", now.Add(-time.Hour).Unix())),
		sign(f, rsaKey.alg, rsaKey.priv, "k1", "at+jwt", with(base, "aud", "https://other.example")),
		sign(f, rsaKey.alg, rsaKey.priv, "k1", "JWT", base),
		sign(f, rsaKey.alg, rsaKey.priv, "k2", "at+jwt", base),
		sign(f, rsaKey.alg, rsaKey.priv, "k9", "at+jwt", base),
		noneToken(base),
		"", "a.b.c", "{}",
	} {
		f.Add(tok)
	}
	keys := map[string]jose.JSONWebKey{"k1": rsaKey.pub, "k2": ecKey.pub}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(context.Background(), token)
		if err != nil {
			if claims != nil {
				t.Fatalf("claims with an error: %+v, %v", claims, err)
			}
			return
		}
		jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil || len(jws.Signatures) != 1 {
			t.Fatalf("accepted, but go-jose cannot parse it: %v", err)
		}
		key, ok := keys[jws.Signatures[0].Header.KeyID]
		if !ok {
			t.Fatalf("accepted with kid %q", jws.Signatures[0].Header.KeyID)
		}
		payload, err := jws.Verify(key.Key)
		if err != nil {
			t.Fatalf("accepted, but go-jose rejects the signature: %v", err)
		}
		var c struct {
			Iss string          `json:"iss"`
			Aud json.RawMessage `json:"aud"`
			Exp float64         `json:"exp"`
			JTI string          `json:"jti"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatalf("accepted, but the payload is not a JSON object: %v", err)
		}
		if c.Iss != issuer || claims.Issuer != issuer || !slices.Contains(claims.Audience, audience) ||
			!claims.ExpiresAt.After(now.Add(-time.Minute)) || claims.ID != c.JTI || int64(c.Exp) != claims.ExpiresAt.Unix() {
			t.Fatalf("accepted with payload %s, claims %+v", payload, claims)
		}
	})
}

// newFuzzECKey is newECKey for a fuzz target (testing.TB).
func newFuzzECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: k, pub: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}, alg: jose.ES256}
}
