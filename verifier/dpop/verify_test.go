package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/verifier/dpop"
)

const (
	tokenURI = "https://server.example.com/token"
	// marker is in every jti and access token of these tests: no error
	// may repeat it.
	marker      = "SECRETMARK"
	accessToken = "at-" + marker + "-Kz~8mXK1EalYznwH"
)

// claimsAt are valid claims of a token request proof issued at iat.
func claimsAt(iat time.Time) map[string]any {
	return map[string]any{"jti": "jti-" + marker + "-" + rand.Text(), "htm": "POST", "htu": tokenURI, "iat": iat.Unix()}
}

// with returns a copy of m with each name set to its value, or deleted
// when the value is the string "<delete>".
func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newVerifier returns a verifier on clk with a fresh replay cache and a
// nonce source, and the cache.
func newVerifier(t testing.TB, clk *clock, nonces *dpop.NonceSource, algs ...string) (*dpop.Verifier, *dpop.MemoryReplayCache) {
	t.Helper()
	cache := dpop.NewMemoryReplayCache(1000, clk.Now)
	v, err := dpop.New(dpop.Config{Algorithms: algs, Replay: cache, Nonces: nonces, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v, cache
}

func newNonces(t testing.TB, clk *clock) *dpop.NonceSource {
	t.Helper()
	n, err := dpop.NewNonceSource([]byte(strings.Repeat("k", 32)), 5*time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestVerify holds every check of RFC 9449 §4.3 to a named failing case,
// and the accepted variants to a passing one. A refused proof leaves the
// replay cache as it was, its error is an *Error with the check's sentinel
// and code, and no error repeats the jti or the access token.
func TestVerify(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	es := ks.es256
	base := func() map[string]any { return claimsAt(testNow) }
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edOther, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edKey := ks.eddsa.priv.(ed25519.PrivateKey)
	edJWK := ks.eddsa.jwk(t)
	// rawProof signs header and claims JSON as given with the EdDSA key.
	rawProof := func(header, claims string) string {
		return signRaw(edKey, []byte(header), []byte(claims))
	}
	edHeader := func(extra string) string {
		j, _ := json.Marshal(edJWK)
		return `{"typ":"dpop+jwt","alg":"EdDSA","jwk":` + string(j) + extra + `}`
	}
	goodClaims, _ := json.Marshal(base())
	// bigRSA is an RSA jwk one bit over the 4096-bit ceiling.
	bigN := new(big.Int).Lsh(big.NewInt(1), 4096)
	bigRSA := map[string]any{"kty": "RSA", "e": "AQAB", "n": base64.RawURLEncoding.EncodeToString(bigN.Add(bigN, big.NewInt(1)).Bytes())}
	offCurve := with(es.jwk(t), "y", es.jwk(t)["x"])

	type tc struct {
		name   string
		proofs func(t *testing.T) []string
		req    func(r *dpop.Request) // adjusts the request; nil: a token request
		algs   []string              // the verifier's Algorithms; nil: all
		want   error                 // the sentinel; nil: accepted
		key    *testKey              // accepted: the key whose thumbprint JKT is
	}
	one := func(p func(t *testing.T) string) func(t *testing.T) []string {
		return func(t *testing.T) []string { return []string{p(t)} }
	}
	var tests []tc
	for _, k := range ks.all() {
		tests = append(tests, tc{
			name:   "accepts " + k.alg,
			proofs: one(func(t *testing.T) string { return sign(t, k, base(), nil) }),
			key:    k,
		})
	}
	tests = append(tests, []tc{
		// Accepted variants.
		{name: "accepts htu with another case, default port, query and fragment", key: es,
			proofs: one(func(t *testing.T) string {
				return sign(t, es, with(base(), "htu", "HTTPS://Server.Example.COM:443/token?x=1#f"), nil)
			})},
		{name: "accepts a request URI with a query", key: es,
			proofs: one(func(t *testing.T) string { return sign(t, es, base(), nil) }),
			req:    func(r *dpop.Request) { r.URI = tokenURI + "?a=b" }},
		{name: "accepts iat at the edge of the past window", key: es,
			proofs: one(func(t *testing.T) string {
				return sign(t, es, with(base(), "iat", testNow.Add(-60*time.Second).Unix()), nil)
			})},
		{name: "accepts iat at the edge of the future window", key: es,
			proofs: one(func(t *testing.T) string {
				return sign(t, es, with(base(), "iat", testNow.Add(60*time.Second).Unix()), nil)
			})},
		{name: "accepts a fractional iat", key: es,
			proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "iat", float64(testNow.Unix())+0.5), nil) })},
		{name: "accepts ath without an access token (not read)", key: es,
			proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "ath", "not-a-hash"), nil) })},
		{name: "accepts the ath of the access token", key: es,
			proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "ath", ath(accessToken)), nil) }),
			req:    func(r *dpop.Request) { r.AccessToken = accessToken }},
		{name: "accepts unknown header members and claims", key: es,
			proofs: one(func(t *testing.T) string {
				return sign(t, es, with(base(), "exp", 1, "extra", map[string]any{"a": []any{1}}), map[string]any{"kid": "k1"})
			})},
		{name: "accepts a jwk with optional members", key: es,
			proofs: one(func(t *testing.T) string {
				return sign(t, es, base(), map[string]any{"jwk": with(es.jwk(t), "kid", "k", "use", "sig", "alg", "ES256")})
			})},
		{name: "accepts a nonce claim when none is required", key: es,
			proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "nonce", "whatever"), nil) })},

		// §4.3 item 1: one DPoP header.
		{name: "no proof", want: dpop.ErrNoProof,
			proofs: func(t *testing.T) []string { return nil }},
		{name: "two proofs, both valid", want: dpop.ErrMultipleProofs,
			proofs: func(t *testing.T) []string { return []string{sign(t, es, base(), nil), sign(t, es, base(), nil)} }},

		// §4.3 item 2: a well-formed JWT.
		{name: "empty proof", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return "" })},
		{name: "two parts", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			p := sign(t, es, base(), nil)
			return p[:strings.LastIndex(p, ".")]
		})},
		{name: "four parts", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return sign(t, es, base(), nil) + ".x" })},
		{name: "padded base64", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return sign(t, es, base(), nil) + "==" })},
		{name: "standard base64 alphabet", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return strings.Replace(sign(t, es, base(), nil), "e", "+", 1)
		})},
		{name: "whitespace", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return " " + sign(t, es, base(), nil) })},
		{name: "non-canonical base64 (trailing bits set)", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			p := sign(t, es, base(), nil)
			// The 64-byte ES256 signature is 86 characters, the last of
			// which carries 4 unused bits: set one of them.
			last := strings.IndexByte(base64URL, p[len(p)-1])
			return p[:len(p)-1] + string(base64URL[last|1])
		})},
		{name: "longer than 8 KB", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "pad", strings.Repeat("a", 8<<10)), nil)
		})},
		{name: "header not JSON", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return rawProof(`{"typ":`, string(goodClaims)) })},
		{name: "header a JSON array", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return rawProof(`["typ"]`, string(goodClaims)) })},
		{name: "header with trailing data", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return rawProof(edHeader("")+"{}", string(goodClaims)) })},
		{name: "header member twice", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return rawProof(edHeader(`,"typ":"dpop+jwt"`), string(goodClaims))
		})},
		{name: "header member twice through an escape", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return rawProof(edHeader(`,"\u0061lg":"EdDSA"`), string(goodClaims))
		})},
		{name: "crit header", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return rawProof(edHeader(`,"crit":["exp"],"exp":1`), string(goodClaims))
		})},
		{name: "claims not JSON", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string { return rawProof(edHeader(""), `{"jti":`) })},
		{name: "claims not UTF-8", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return rawProof(edHeader(""), strings.Replace(string(goodClaims), "POST", "PO\xffST", 1))
		})},
		{name: "claim twice", want: dpop.ErrMalformed, proofs: one(func(t *testing.T) string {
			return rawProof(edHeader(""), strings.Replace(string(goodClaims), "{", `{"htm":"GET",`, 1))
		})},

		// §4.3 item 4: typ.
		{name: "typ missing", want: dpop.ErrType, proofs: one(func(t *testing.T) string {
			return rawProof(strings.Replace(edHeader(""), `"typ":"dpop+jwt",`, "", 1), string(goodClaims))
		})},
		{name: "typ JWT", want: dpop.ErrType, proofs: one(func(t *testing.T) string { return sign(t, es, base(), map[string]any{"typ": "JWT"}) })},
		{name: "typ in another case", want: dpop.ErrType, proofs: one(func(t *testing.T) string { return sign(t, es, base(), map[string]any{"typ": "DPoP+JWT"}) })},
		{name: "typ with media type prefix", want: dpop.ErrType, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"typ": "application/dpop+jwt"})
		})},
		{name: "typ not a string", want: dpop.ErrType, proofs: one(func(t *testing.T) string { return sign(t, es, base(), map[string]any{"typ": 1}) })},

		// §4.3 item 5: alg.
		{name: "alg none", want: dpop.ErrAlgorithm, proofs: one(func(t *testing.T) string {
			p := sign(t, es, base(), map[string]any{"alg": "none"})
			return p[:strings.LastIndex(p, ".")+1]
		})},
		{name: "alg HS256 keyed with the jwk", want: dpop.ErrAlgorithm, proofs: one(func(t *testing.T) string {
			hdr := strings.Replace(edHeader(""), `"alg":"EdDSA"`, `"alg":"HS256"`, 1)
			b64 := base64.RawURLEncoding
			input := b64.EncodeToString([]byte(hdr)) + "." + b64.EncodeToString(goodClaims)
			mac := hmac.New(sha256.New, []byte(edJWK["x"].(string)))
			mac.Write([]byte(input))
			return input + "." + b64.EncodeToString(mac.Sum(nil))
		})},
		{name: "alg missing", want: dpop.ErrAlgorithm, proofs: one(func(t *testing.T) string {
			return rawProof(strings.Replace(edHeader(""), `"alg":"EdDSA",`, "", 1), string(goodClaims))
		})},
		{name: "alg ES384", want: dpop.ErrAlgorithm, proofs: one(func(t *testing.T) string {
			return sign(t, &testKey{alg: "ES384", priv: p384}, base(), nil)
		})},
		{name: "alg supported but not configured", want: dpop.ErrAlgorithm, algs: []string{"ES256", "EdDSA"},
			proofs: one(func(t *testing.T) string { return sign(t, ks.rs256, base(), nil) })},
		{name: "Ed25519 alone does not admit EdDSA", want: dpop.ErrAlgorithm, algs: []string{"Ed25519"},
			proofs: one(func(t *testing.T) string { return sign(t, ks.eddsa, base(), nil) })},

		// §4.3 item 7 and key type: jwk.
		{name: "jwk missing", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return rawProof(`{"typ":"dpop+jwt","alg":"EdDSA"}`, string(goodClaims))
		})},
		{name: "jwk not an object", want: dpop.ErrKey, proofs: one(func(t *testing.T) string { return sign(t, es, base(), map[string]any{"jwk": "x"}) })},
		{name: "jwk EC private key", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"jwk": jwkOf(t, es.priv)})
		})},
		{name: "jwk RSA private key", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.rs256, base(), map[string]any{"jwk": jwkOf(t, ks.rs256.priv)})
		})},
		{name: "jwk OKP private key", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.eddsa, base(), map[string]any{"jwk": jwkOf(t, edKey)})
		})},
		{name: "jwk with only an RSA prime", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.rs256, base(), map[string]any{"jwk": with(ks.rs256.jwk(t), "p", "AQAB")})
		})},
		{name: "jwk symmetric", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}})
		})},
		{name: "jwk member twice", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			j, _ := json.Marshal(edJWK)
			return rawProof(`{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+strings.Replace(string(j), "{", `{"x":"AAAA",`, 1)+`}`, string(goodClaims))
		})},
		{name: "ES256 with an RSA jwk", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"jwk": ks.rs256.jwk(t)})
		})},
		{name: "ES256 with a P-384 jwk", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"jwk": jwkOf(t, p384.Public())})
		})},
		{name: "EdDSA with an EC jwk", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.eddsa, base(), map[string]any{"jwk": es.jwk(t)})
		})},
		{name: "RS256 with an EC jwk", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.rs256, base(), map[string]any{"jwk": es.jwk(t)})
		})},
		{name: "EC point not on the curve", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"jwk": offCurve})
		})},
		{name: "EC coordinate shorter than 32 bytes", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, es, base(), map[string]any{"jwk": with(es.jwk(t), "x", "AQAB")})
		})},
		{name: "RSA 1024-bit key", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, &testKey{alg: "RS256", priv: rsa1024}, base(), nil)
		})},
		{name: "RSA key over 4096 bits", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.rs256, base(), map[string]any{"jwk": bigRSA})
		})},
		{name: "RSA modulus with a leading zero", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			n, _ := base64.RawURLEncoding.DecodeString(ks.rs256.jwk(t)["n"].(string))
			return sign(t, ks.rs256, base(), map[string]any{"jwk": with(ks.rs256.jwk(t), "n", base64.RawURLEncoding.EncodeToString(append([]byte{0}, n...)))})
		})},
		{name: "RSA even exponent", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.rs256, base(), map[string]any{"jwk": with(ks.rs256.jwk(t), "e", "AQAC")})
		})},

		// §4.3 item 6: signature.
		{name: "signed by another key", want: dpop.ErrSignature, proofs: one(func(t *testing.T) string {
			return sign(t, &testKey{alg: "ES256", priv: p256}, base(), map[string]any{"jwk": es.jwk(t)})
		})},
		{name: "Ed25519 signed by another key", want: dpop.ErrSignature, proofs: one(func(t *testing.T) string {
			return sign(t, &testKey{alg: "Ed25519", priv: edOther}, base(), map[string]any{"jwk": ks.ed25519.jwk(t)})
		})},
		{name: "claims changed after signing", want: dpop.ErrSignature, proofs: one(func(t *testing.T) string {
			p := strings.Split(sign(t, es, base(), nil), ".")
			changed, _ := json.Marshal(with(base(), "htm", "GET"))
			return p[0] + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + p[2]
		})},
		{name: "PKCS #1 v1.5 signature labelled PS256", want: dpop.ErrSignature, proofs: one(func(t *testing.T) string {
			return sign(t, ks.rs256, base(), map[string]any{"alg": "PS256"})
		})},
		{name: "EdDSA signature labelled ES256 with the Ed25519 jwk", want: dpop.ErrKey, proofs: one(func(t *testing.T) string {
			return sign(t, ks.eddsa, base(), map[string]any{"alg": "ES256"})
		})},
		{name: "ES256 signature of the wrong length", want: dpop.ErrSignature, proofs: one(func(t *testing.T) string {
			p := sign(t, es, base(), nil)
			return p + "AAAA"
		})},

		// jti (§4.2, §4.3 item 3).
		{name: "jti missing", want: dpop.ErrJTI, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "jti", "<delete>"), nil) })},
		{name: "jti empty", want: dpop.ErrJTI, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "jti", ""), nil) })},
		{name: "jti a number", want: dpop.ErrJTI, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "jti", 7), nil) })},
		{name: "jti over 256 bytes", want: dpop.ErrJTI, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "jti", marker+strings.Repeat("j", 256)), nil)
		})},

		// §4.3 item 8: htm.
		{name: "htm missing", want: dpop.ErrMethod, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "htm", "<delete>"), nil) })},
		{name: "htm another method", want: dpop.ErrMethod, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "htm", "GET"), nil) })},
		{name: "htm lowercase", want: dpop.ErrMethod, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "htm", "post"), nil) })},

		// §4.3 item 9: htu.
		{name: "htu missing", want: dpop.ErrURI, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "htu", "<delete>"), nil) })},
		{name: "htu another host", want: dpop.ErrURI, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "htu", "https://server.example.org/token"), nil)
		})},
		{name: "htu another path", want: dpop.ErrURI, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "htu", "https://server.example.com/getprofile"), nil)
		})},
		{name: "htu with a trailing slash", want: dpop.ErrURI, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "htu", tokenURI+"/"), nil)
		})},
		{name: "htu http instead of https", want: dpop.ErrURI, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "htu", "http://server.example.com/token"), nil)
		})},
		{name: "htu another port", want: dpop.ErrURI, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "htu", "https://server.example.com:8443/token"), nil)
		})},
		{name: "htu relative", want: dpop.ErrURI, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "htu", "/token"), nil) })},
		{name: "htu not a string", want: dpop.ErrURI, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "htu", 1), nil) })},

		// §4.3 item 11: iat.
		{name: "iat missing", want: dpop.ErrIssuedAt, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "iat", "<delete>"), nil) })},
		{name: "iat a string", want: dpop.ErrIssuedAt, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "iat", "1800000000"), nil)
		})},
		{name: "iat 61 s old", want: dpop.ErrIssuedAt, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "iat", testNow.Add(-61*time.Second).Unix()), nil)
		})},
		{name: "iat 61 s ahead", want: dpop.ErrIssuedAt, proofs: one(func(t *testing.T) string {
			return sign(t, es, with(base(), "iat", testNow.Add(61*time.Second).Unix()), nil)
		})},
		{name: "iat huge", want: dpop.ErrIssuedAt, proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "iat", 1e300), nil) })},

		// §4.3 item 12: ath.
		{name: "ath missing with an access token", want: dpop.ErrAccessTokenHash,
			proofs: one(func(t *testing.T) string { return sign(t, es, base(), nil) }),
			req:    func(r *dpop.Request) { r.AccessToken = accessToken }},
		{name: "ath of another token", want: dpop.ErrAccessTokenHash,
			proofs: one(func(t *testing.T) string { return sign(t, es, with(base(), "ath", ath(accessToken+"x")), nil) }),
			req:    func(r *dpop.Request) { r.AccessToken = accessToken }},
		{name: "ath of the token, not base64url", want: dpop.ErrAccessTokenHash,
			proofs: one(func(t *testing.T) string {
				sum := sha256.Sum256([]byte(accessToken))
				return sign(t, es, with(base(), "ath", base64.StdEncoding.EncodeToString(sum[:])), nil)
			}),
			req: func(r *dpop.Request) { r.AccessToken = accessToken }},
	}...)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock(testNow)
			v, cache := newVerifier(t, clk, nil, tt.algs...)
			req := dpop.Request{Proofs: tt.proofs(t), Method: "POST", URI: tokenURI}
			if tt.req != nil {
				tt.req(&req)
			}
			got, err := v.Verify(context.Background(), req)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if want := tt.key.thumbprint(t); got.JKT != want {
					t.Errorf("JKT = %s, go-jose's thumbprint is %s", got.JKT, want)
				}
				if got.Algorithm != tt.key.alg || !strings.Contains(got.JTI, marker) || got.IssuedAt.Sub(testNow).Abs() > time.Minute {
					t.Errorf("proof = %+v", got)
				}
				if cache.Len() != 1 {
					t.Errorf("replay cache holds %d records, want 1", cache.Len())
				}
				return
			}
			if got != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", got, err, tt.want)
			}
			var e *dpop.Error
			if !errors.As(err, &e) || e.Code != dpop.CodeInvalidProof || e.Description == "" {
				t.Errorf("error %v is not an *Error with code %s", err, dpop.CodeInvalidProof)
			}
			if strings.Contains(err.Error(), marker) {
				t.Errorf("error %q repeats the jti or the access token", err)
			}
			if cache.Len() != 0 {
				t.Errorf("a refused proof left %d replay records", cache.Len())
			}
		})
	}
}

// The example proofs of RFC 9449: the token request of §4.2 and §5, the
// refresh request of §5 and the resource request of §7, all from one ES256
// key, whose thumbprint §6.1 gives. Their iat is in 2019, so the clock is
// set to it.
const (
	rfcTokenProof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19" +
		".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ" +
		".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	rfcRefreshProof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19" +
		".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjY1Mjk2fQ" +
		".pAqut2IRDm_De6PR93SYmGBPXpwrAk90e8cP2hjiaG5QsGSuKDYW7_X620BxqhvYC8ynrrvZLTk41mSRroapUA"
	rfcResourceProof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19" +
		".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9" +
		".2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
	rfcAccessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
)

// TestVerifyRFC9449Examples verifies the RFC's own proofs, and refuses
// each once its request differs in one way.
func TestVerifyRFC9449Examples(t *testing.T) {
	t.Parallel()
	examples := []struct {
		name  string
		proof string
		iat   int64
		req   dpop.Request
		jti   string
	}{
		{"token request (§5)", rfcTokenProof, 1562262616,
			dpop.Request{Method: "POST", URI: "https://server.example.com/token"}, "-BwC3ESc6acc2lTc"},
		{"refresh request (§5)", rfcRefreshProof, 1562265296,
			dpop.Request{Method: "POST", URI: "https://server.example.com/token"}, "-BwC3ESc6acc2lTc"},
		{"resource request (§7)", rfcResourceProof, 1562262618,
			dpop.Request{Method: "GET", URI: "https://resource.example.org/protectedresource", AccessToken: rfcAccessToken}, "e1j3V_bKic8-LAEB"},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			verify := func(clockAt time.Time, change func(*dpop.Request)) (*dpop.Proof, error) {
				v, _ := newVerifier(t, newClock(clockAt), nil)
				req := ex.req
				req.Proofs = []string{ex.proof}
				if change != nil {
					change(&req)
				}
				return v.Verify(context.Background(), req)
			}
			at := time.Unix(ex.iat, 0)
			got, err := verify(at, nil)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.JKT != rfcJKT || got.JTI != ex.jti || !got.IssuedAt.Equal(at) || got.Algorithm != "ES256" {
				t.Errorf("proof = %+v, want jkt %s, jti %s, iat %v", got, rfcJKT, ex.jti, at)
			}
			refusals := []struct {
				name   string
				at     time.Time
				change func(*dpop.Request)
				want   error
			}{
				{"today", testNow, nil, dpop.ErrIssuedAt},
				{"another method", at, func(r *dpop.Request) { r.Method = "PUT" }, dpop.ErrMethod},
				{"another URI", at, func(r *dpop.Request) { r.URI += "2" }, dpop.ErrURI},
				{"another access token", at, func(r *dpop.Request) { r.AccessToken = "other" }, dpop.ErrAccessTokenHash},
			}
			for _, r := range refusals {
				if _, err := verify(r.at, r.change); !errors.Is(err, r.want) {
					t.Errorf("%s: Verify = %v, want %v", r.name, err, r.want)
				}
			}
		})
	}
}

// TestVerifyReplay: a proof is accepted once, within and beyond its
// window; the same jti from another key or for another URI is another
// proof.
func TestVerifyReplay(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	clk := newClock(testNow)
	v, cache := newVerifier(t, clk, nil)
	ctx := context.Background()
	claims := claimsAt(testNow)
	proof := sign(t, ks.es256, claims, nil)
	req := dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI}
	if _, err := v.Verify(ctx, req); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := v.Verify(ctx, req); !errors.Is(err, dpop.ErrReplay) {
		t.Fatalf("second use: %v, want ErrReplay", err)
	}
	// The same claims, jti included, signed by another client's key.
	if _, err := v.Verify(ctx, dpop.Request{Proofs: []string{sign(t, ks.eddsa, claims, nil)}, Method: "POST", URI: tokenURI}); err != nil {
		t.Errorf("same jti, another key: %v", err)
	}
	// The same key and jti for another URI.
	other := "https://server.example.com/customer_authenticate"
	if _, err := v.Verify(ctx, dpop.Request{Proofs: []string{sign(t, ks.es256, with(claims, "htu", other), nil)}, Method: "POST", URI: other}); err != nil {
		t.Errorf("same key and jti, another URI: %v", err)
	}
	// At the window's end the proof is still remembered; past it, it is
	// stale.
	clk.Add(60 * time.Second)
	if _, err := v.Verify(ctx, req); !errors.Is(err, dpop.ErrReplay) {
		t.Errorf("at the window's end: %v, want ErrReplay", err)
	}
	clk.Add(time.Second)
	if _, err := v.Verify(ctx, req); !errors.Is(err, dpop.ErrIssuedAt) {
		t.Errorf("past the window: %v, want ErrIssuedAt", err)
	}
	if cache.Len() != 3 {
		t.Errorf("cache holds %d records, want 3", cache.Len())
	}
}

// TestVerifyKeyBinding: with Request.JKT a proof of another key is
// refused with ErrKeyMismatch before it is recorded, so it costs the
// replay cache nothing; the proof of the bound key passes.
func TestVerifyKeyBinding(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	clk := newClock(testNow)
	v, cache := newVerifier(t, clk, nil)
	ctx := context.Background()
	bound := sign(t, ks.es256, claimsAt(testNow), nil)
	first, err := v.Verify(ctx, dpop.Request{Proofs: []string{bound}, Method: "POST", URI: tokenURI})
	if err != nil {
		t.Fatal(err)
	}
	other := sign(t, ks.eddsa, with(claimsAt(testNow), "jti", "another"), nil)
	req := dpop.Request{Proofs: []string{other}, Method: "POST", URI: tokenURI, JKT: first.JKT}
	var e *dpop.Error
	if _, err := v.Verify(ctx, req); !errors.Is(err, dpop.ErrKeyMismatch) || !errors.As(err, &e) || e.Code != dpop.CodeInvalidProof {
		t.Fatalf("another key: %v, want ErrKeyMismatch", err)
	}
	if cache.Len() != 1 {
		t.Fatalf("cache holds %d records after the refusal, want 1", cache.Len())
	}
	mine := sign(t, ks.es256, with(claimsAt(testNow), "jti", "mine"), nil)
	if _, err := v.Verify(ctx, dpop.Request{Proofs: []string{mine}, Method: "POST", URI: tokenURI, JKT: first.JKT}); err != nil {
		t.Fatalf("the bound key: %v", err)
	}
}

// failingCache is a replay store that cannot be reached.
type failingCache struct{}

func (failingCache) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store unreachable")
}

// TestVerifyReplayCacheFailure: a store failure is the caller's error (503),
// not a refused proof.
func TestVerifyReplayCacheFailure(t *testing.T) {
	t.Parallel()
	clk := newClock(testNow)
	v, err := dpop.New(dpop.Config{Replay: failingCache{}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), dpop.Request{Proofs: []string{sign(t, testKeys().es256, claimsAt(testNow), nil)}, Method: "POST", URI: tokenURI})
	var e *dpop.Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "store unreachable") {
		t.Errorf("Verify = %v, want the store's error, not an *Error", err)
	}
}

// TestVerifyNonce: with RequireNonce, a missing, stale or forged nonce is
// use_dpop_nonce with the current nonce to send; a current or previous
// period's nonce is accepted.
func TestVerifyNonce(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	clk := newClock(testNow)
	nonces := newNonces(t, clk)
	v, _ := newVerifier(t, clk, nonces)
	ctx := context.Background()
	verify := func(claims map[string]any) (*dpop.Proof, error) {
		return v.Verify(ctx, dpop.Request{Proofs: []string{sign(t, ks.es256, claims, nil)}, Method: "POST", URI: tokenURI, RequireNonce: true})
	}
	stale := nonces.Nonce()
	clk.Add(10 * time.Minute) // two periods later
	current := nonces.Nonce()
	if current == stale {
		t.Fatal("the nonce did not change in two periods")
	}
	forged, err := dpop.NewNonceSource([]byte(strings.Repeat("x", 32)), 5*time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	for _, tc := range []struct {
		name   string
		claims map[string]any
	}{
		{"missing", claimsAt(now)},
		{"not a string", with(claimsAt(now), "nonce", 1)},
		{"stale", with(claimsAt(now), "nonce", stale)},
		{"from another secret", with(claimsAt(now), "nonce", forged.Nonce())},
		{"garbage", with(claimsAt(now), "nonce", "!!")},
	} {
		_, err := verify(tc.claims)
		var e *dpop.Error
		if !errors.Is(err, dpop.ErrNonce) || !errors.As(err, &e) || e.Code != dpop.CodeUseNonce || e.Nonce != current {
			t.Errorf("%s: Verify = %v (%+v), want use_dpop_nonce with the current nonce", tc.name, err, e)
		}
	}
	if _, err := verify(with(claimsAt(now), "nonce", current)); err != nil {
		t.Errorf("current nonce: %v", err)
	}
	clk.Add(5 * time.Minute)
	if _, err := verify(with(claimsAt(clk.Now()), "nonce", current)); err != nil {
		t.Errorf("previous period's nonce: %v", err)
	}
	// Without RequireNonce, a stale nonce is not read.
	if _, err := v.Verify(ctx, dpop.Request{Proofs: []string{sign(t, ks.es256, with(claimsAt(clk.Now()), "nonce", stale), nil)}, Method: "POST", URI: tokenURI}); err != nil {
		t.Errorf("nonce not required: %v", err)
	}
}

// TestVerifyCallerErrors: mistakes of the caller are plain errors, not a
// refused proof.
func TestVerifyCallerErrors(t *testing.T) {
	t.Parallel()
	clk := newClock(testNow)
	v, _ := newVerifier(t, clk, nil)
	proof := sign(t, testKeys().es256, claimsAt(testNow), nil)
	for _, tc := range []struct {
		name string
		req  dpop.Request
	}{
		{"empty method", dpop.Request{Proofs: []string{proof}, URI: tokenURI}},
		{"relative URI", dpop.Request{Proofs: []string{proof}, Method: "POST", URI: "/token"}},
		{"non-http URI", dpop.Request{Proofs: []string{proof}, Method: "POST", URI: "ftp://server.example.com/token"}},
		{"nonce without a NonceSource", dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI, RequireNonce: true}},
	} {
		_, err := v.Verify(context.Background(), tc.req)
		var e *dpop.Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("%s: Verify = %v, want a plain error", tc.name, err)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	cache := dpop.NewMemoryReplayCache(10, nil)
	for _, tc := range []struct {
		name string
		cfg  dpop.Config
		ok   bool
	}{
		{"defaults", dpop.Config{Replay: cache}, true},
		{"subset", dpop.Config{Replay: cache, Algorithms: []string{"Ed25519", "ES256"}, Window: 5 * time.Minute}, true},
		{"no replay cache", dpop.Config{}, false},
		{"none", dpop.Config{Replay: cache, Algorithms: []string{"none"}}, false},
		{"HS256", dpop.Config{Replay: cache, Algorithms: []string{"HS256"}}, false},
		{"ES384", dpop.Config{Replay: cache, Algorithms: []string{"ES384"}}, false},
		{"lowercase", dpop.Config{Replay: cache, Algorithms: []string{"es256"}}, false},
		{"twice", dpop.Config{Replay: cache, Algorithms: []string{"ES256", "EdDSA", "ES256"}}, false},
		{"negative window", dpop.Config{Replay: cache, Window: -time.Second}, false},
		{"window over 5m", dpop.Config{Replay: cache, Window: 5*time.Minute + 1}, false},
	} {
		v, err := dpop.New(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: New error = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err == nil && len(tc.cfg.Algorithms) > 0 && strings.Join(v.Algorithms(), " ") != strings.Join(tc.cfg.Algorithms, " ") {
			t.Errorf("%s: Algorithms = %v", tc.name, v.Algorithms())
		}
	}
	v, _ := dpop.New(dpop.Config{Replay: cache})
	if got := strings.Join(v.Algorithms(), " "); got != "ES256 EdDSA Ed25519 RS256 PS256" {
		t.Errorf("default Algorithms = %s", got)
	}
	v.Algorithms()[0] = "none"
	if v.Algorithms()[0] != "ES256" {
		t.Error("Algorithms returns the verifier's own slice")
	}
}
