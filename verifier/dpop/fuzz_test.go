package dpop_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier/dpop"
)

// fuzzNow is the clock of FuzzVerifyProof: the iat of RFC 9449's token
// request proof (§5), which is a seed, as are the proofs in testdata/fuzz,
// signed for that instant.
var fuzzNow = time.Unix(1562262616, 0)

// FuzzVerifyProof feeds arbitrary strings to Verify as the DPoP header of
// a POST to https://server.example.com/token. Whatever the input: no
// panic; a refusal is an *Error with code invalid_dpop_proof, a
// description of printable ASCII only, and nothing recorded; an accepted
// proof is one that encoding/json and go-jose read the same way (typ
// dpop+jwt, a public jwk whose thumbprint is JKT, a signature go-jose
// verifies with it, the jti and htm reported), and it is refused when
// presented again.
func FuzzVerifyProof(f *testing.F) {
	f.Add(rfcTokenProof)
	f.Add(strings.Replace(rfcTokenProof, ".", "..", 1))
	f.Fuzz(func(t *testing.T, proof string) {
		clk := newClock(fuzzNow)
		cache := dpop.NewMemoryReplayCache(10, clk.Now)
		v, err := dpop.New(dpop.Config{Replay: cache, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		req := dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI}
		got, err := v.Verify(context.Background(), req)
		if err != nil {
			var e *dpop.Error
			if !errors.As(err, &e) || e.Code != dpop.CodeInvalidProof {
				t.Fatalf("Verify error %v is not an invalid_dpop_proof *Error", err)
			}
			for _, c := range []byte(e.Description) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("description %q has a non-printable byte", e.Description)
				}
			}
			if cache.Len() != 0 {
				t.Fatal("a refused proof was recorded")
			}
			return
		}
		parts := strings.Split(proof, ".")
		rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatalf("accepted, but the header is not base64url: %v", err)
		}
		var header struct {
			Typ string          `json:"typ"`
			Alg string          `json:"alg"`
			JWK json.RawMessage `json:"jwk"`
		}
		if err := json.Unmarshal(rawHeader, &header); err != nil || header.Typ != "dpop+jwt" || header.Alg != got.Algorithm {
			t.Fatalf("accepted, but encoding/json reads the header %s as %+v (%v)", rawHeader, header, err)
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(header.JWK); err != nil || !jwk.IsPublic() {
			t.Fatalf("accepted, but go-jose reads jwk %s as %v (public %v)", header.JWK, err, jwk.IsPublic())
		}
		sum, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil || base64.RawURLEncoding.EncodeToString(sum) != got.JKT {
			t.Fatalf("JKT %s, go-jose's thumbprint %x (%v)", got.JKT, sum, err)
		}
		if got.Algorithm != "Ed25519" { // a name go-jose does not know
			jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(got.Algorithm)})
			if err != nil {
				t.Fatalf("accepted, but go-jose does not parse it: %v", err)
			}
			if _, err := jws.Verify(&jwk); err != nil {
				t.Fatalf("accepted, but go-jose does not verify it: %v", err)
			}
		}
		rawClaims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			JTI string `json:"jti"`
			HTM string `json:"htm"`
		}
		if err := json.Unmarshal(rawClaims, &claims); err != nil || claims.JTI != got.JTI || claims.HTM != "POST" {
			t.Fatalf("accepted %+v, but encoding/json reads the claims %s as %+v (%v)", got, rawClaims, claims, err)
		}
		if _, err := v.Verify(context.Background(), req); !errors.Is(err, dpop.ErrReplay) {
			t.Fatalf("second use: %v, want ErrReplay", err)
		}
	})
}

// TestFuzzSeedsStayValid: the corpus's valid-* seeds are accepted at the
// fuzz clock, so that fuzzing starts from proofs that reach every check.
func TestFuzzSeedsStayValid(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/fuzz/FuzzVerifyProof/valid-*")
	if err != nil || len(files) != 5 {
		t.Fatalf("valid seeds: %v, %v; want one per algorithm", files, err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// The file is "go test fuzz v1\nstring(<Go literal>)\n".
		lit := strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(string(raw), "\n", 2)[1], "string("), ")\n")
		proof, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		clk := newClock(fuzzNow)
		v, _ := newVerifier(t, clk, nil)
		if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI}); err != nil {
			t.Errorf("%s: %v", filepath.Base(name), err)
		}
	}
}
