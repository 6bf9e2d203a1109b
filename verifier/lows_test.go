package verifier_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier"
)

// withS returns token, a compact JWS, with the s of its ECDSA signature
// (alg ES256, ES384 or ES512) made high (s > n/2) or low: (r, n−s) is the
// other valid signature of the same message. Other algs pass through.
func withS(t testing.TB, token string, high bool) string {
	t.Helper()
	parts := strings.Split(token, ".")
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var curve elliptic.Curve
	switch {
	case strings.Contains(string(hdr), `"ES256"`):
		curve = elliptic.P256()
	case strings.Contains(string(hdr), `"ES384"`):
		curve = elliptic.P384()
	case strings.Contains(string(hdr), `"ES512"`):
		curve = elliptic.P521()
	default:
		return token
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	n := curve.Params().N
	s := new(big.Int).SetBytes(sig[len(sig)/2:])
	if isHigh := s.Cmp(new(big.Int).Rsh(n, 1)) > 0; isHigh != high {
		s.Sub(n, s).FillBytes(sig[len(sig)/2:])
	}
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// The high-S twin of a valid ECDSA token verifies with go-jose, and is
// refused as a bad signature; the low-S token is accepted.
func TestVerifyRefusesHighS(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	ec := newECKey(t, "k1")
	srv := newJWKSServer(t, "max-age=300", ec.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		low := sign(t, ec.alg, ec.priv, "k1", "at+jwt", with(baseClaims(clk.Now()), "jti", string(rune('a'+i))))
		high := withS(t, low, true)
		if low == high {
			t.Fatal("the twin is the token")
		}
		jws, err := jose.ParseSignedCompact(high, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(ec.pub); err != nil {
			t.Fatalf("go-jose refuses the twin, so the test proves nothing: %v", err)
		}
		if _, err := v.Verify(context.Background(), low); err != nil {
			t.Fatalf("low-S token refused: %v", err)
		}
		if _, err := v.Verify(context.Background(), high); !errors.Is(err, verifier.ErrSignature) {
			t.Fatalf("high-S twin: %v, want ErrSignature", err)
		}
	}
}
