package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// rates are the in-process references of one algorithm on this machine,
// all cores busy.
type rates struct {
	// sign (S) is the raw signing rate: SHA-256 of a real token's signing
	// input and the signature primitive of crypto/rsa, crypto/ecdsa or
	// crypto/ed25519, the operation no token server can skip.
	sign rate
	// jose is the rate of go-jose v4 Sign plus CompactSerialize of the
	// same claims: what the library adds to the primitive.
	jose rate
	// verify (V) is the raw verification rate of the same signature.
	verify rate
}

// rate is operations per second measured by the wall clock, and computed
// from the CPU time they took: cores / CPU per operation, what the machine
// gives when nothing else runs on it.
type rate struct {
	wall, alone float64
}

// signingKey returns a new private key of alg, the kind the server makes.
func signingKey(alg string, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case "RS256":
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

// primitives returns one signature of input and verification of it, as
// closures over a fresh key.
func primitives(alg string, key crypto.Signer) (sign func([]byte) []byte, verify func([]byte, []byte) bool) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return func(in []byte) []byte {
				h := sha256.Sum256(in)
				sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
				if err != nil {
					panic(err)
				}
				return sig
			}, func(in, sig []byte) bool {
				h := sha256.Sum256(in)
				return rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, h[:], sig) == nil
			}
	case *ecdsa.PrivateKey:
		return func(in []byte) []byte {
				h := sha256.Sum256(in)
				sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
				if err != nil {
					panic(err)
				}
				return sig
			}, func(in, sig []byte) bool {
				h := sha256.Sum256(in)
				return ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
			}
	case ed25519.PrivateKey:
		pub := k.Public().(ed25519.PublicKey)
		return func(in []byte) []byte { return ed25519.Sign(k, in) },
			func(in, sig []byte) bool { return ed25519.Verify(pub, in, sig) }
	}
	panic("unknown key type for " + alg)
}

// measureRates measures S, the jose rate and V for alg over d each, with
// one goroutine per core, on token, a compact JWS the server issued (its
// signing input is what gets signed and its claims what go-jose signs).
func measureRates(alg string, rsaBits int, token string, d time.Duration) (rates, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return rates{}, fmt.Errorf("not a compact JWS")
	}
	input := []byte(parts[0] + "." + parts[1])
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return rates{}, fmt.Errorf("token payload: %w", err)
	}
	key, err := signingKey(alg, rsaBits)
	if err != nil {
		return rates{}, err
	}
	sign, verify := primitives(alg, key)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: "load"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return rates{}, err
	}
	sig := sign(input)
	if !verify(input, sig) {
		return rates{}, fmt.Errorf("%s: a fresh signature does not verify", alg)
	}
	var r rates
	r.sign = parallelRate(d, func() { sign(input) })
	r.jose = parallelRate(d, func() {
		jws, err := signer.Sign(claims)
		if err != nil {
			panic(err)
		}
		if _, err := jws.CompactSerialize(); err != nil {
			panic(err)
		}
	})
	r.verify = parallelRate(d, func() {
		if !verify(input, sig) {
			panic("verification failed")
		}
	})
	return r, nil
}

// parallelRate runs op on every core for d and returns its rate.
func parallelRate(d time.Duration, op func()) rate {
	var total atomic.Int64
	var wg sync.WaitGroup
	cpu0 := selfCPU()
	start := time.Now()
	deadline := start.Add(d)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(deadline) {
				op()
				n++
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	n := float64(total.Load())
	r := rate{wall: n / time.Since(start).Seconds()}
	if cpu := (selfCPU() - cpu0).Seconds(); cpu > 0 {
		r.alone = n / cpu * float64(runtime.GOMAXPROCS(0))
	}
	return r
}
