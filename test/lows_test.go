package test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
	"github.com/authserver/authserver/verifier"
)

// sTwin returns the other valid ES256 signature of token's message: (r,
// n−s) for (r, s) (ECDSA's malleability).
func sTwin(t testing.TB, token string) (twin string, wasHigh bool) {
	t.Helper()
	parts := strings.Split(token, ".")
	sig := mustB64(t, parts[2])
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	wasHigh = s.Cmp(new(big.Int).Rsh(n, 1)) > 0
	s.Sub(n, s).FillBytes(sig[32:])
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig), wasHigh
}

// An ES256 server signs low-S only, and the high-S twin of one of its
// tokens (which go-jose and crypto/ecdsa accept) is inactive at
// introspection and refused by the verifier package, while the token
// itself is good.
func TestHighSTwinOfATokenRefused(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) { c.Tokens.Algorithm = "ES256" })
	app := in.CreateApp(t, map[string]any{"name": "backend"})
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	v, err := verifier.New(verifier.Config{Issuer: in.PublicURL, Audience: in.PublicURL})
	if err != nil {
		t.Fatal(err)
	}
	jwks := fetchJWKS(t, in.PublicURL)
	for i := range 8 {
		tok := token(t, in, app)
		twin, high := sTwin(t, tok)
		if high {
			t.Fatalf("token %d is signed high-S", i)
		}
		if _, _, err := verifyToken(twin, jwks, in.PublicURL, in.PublicURL, in.Clock.Now()); err != nil {
			t.Fatalf("go-jose refuses the twin, so the test proves nothing: %v", err)
		}
		for _, c := range []struct {
			name   string
			tok    string
			active bool
		}{{"token", tok, true}, {"high-S twin", twin, false}} {
			status, body := introspect(t, in, rs, c.tok)
			if status != http.StatusOK || body["active"] != c.active {
				t.Fatalf("introspection of the %s: %d %v, want active %v", c.name, status, body, c.active)
			}
			_, err := v.Verify(context.Background(), c.tok)
			if c.active && err != nil {
				t.Fatalf("verifier refuses the %s: %v", c.name, err)
			}
			if !c.active && !errors.Is(err, verifier.ErrSignature) {
				t.Fatalf("verifier on the %s: %v, want ErrSignature", c.name, err)
			}
		}
	}
}
