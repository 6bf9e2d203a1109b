package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/verifier/dpop"
)

// BenchmarkVerifyProof is the whole check of one token-request proof per
// algorithm, replay cache included (each proof is fresh: a pool of
// distinct proofs, and a new verifier and cache, outside the timer, each
// time the pool is used up). BenchmarkRawVerify beside it is the signature
// check alone, with the standard library, on the same signing input: the
// ratio of the two is the cost of everything else. Both also report
// cpu-ns/op, the process's CPU time per operation, which a busy machine
// does not inflate as it does ns/op.
func BenchmarkVerifyProof(b *testing.B) {
	for _, k := range testKeys().all() {
		b.Run(k.alg, func(b *testing.B) {
			const pool = 256
			clk := newClock(testNow)
			proofs := make([]string, pool)
			for i := range proofs {
				proofs[i] = sign(b, k, claimsAt(testNow), nil)
			}
			fresh := func() *dpop.Verifier {
				v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(pool, clk.Now), Now: clk.Now})
				if err != nil {
					b.Fatal(err)
				}
				return v
			}
			v := fresh()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b, processCPU())
			for i := 0; i < b.N; i++ {
				j := i % pool
				if j == 0 && i > 0 {
					b.StopTimer()
					v = fresh()
					b.StartTimer()
				}
				if _, err := v.Verify(ctx, dpop.Request{Proofs: proofs[j : j+1], Method: "POST", URI: tokenURI}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawVerify(b *testing.B) {
	for _, k := range testKeys().all() {
		b.Run(k.alg, func(b *testing.B) {
			proof := sign(b, k, claimsAt(testNow), nil)
			cut := strings.LastIndexByte(proof, '.')
			input := []byte(proof[:cut])
			sig, err := base64.RawURLEncoding.DecodeString(proof[cut+1:])
			if err != nil {
				b.Fatal(err)
			}
			var verify func() bool
			switch pub := k.public().(type) {
			case *ecdsa.PublicKey:
				verify = func() bool {
					sum := sha256.Sum256(input)
					return ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
				}
			case ed25519.PublicKey:
				verify = func() bool { return ed25519.Verify(pub, input, sig) }
			case *rsa.PublicKey:
				if k.alg == "PS256" {
					verify = func() bool {
						sum := sha256.Sum256(input)
						return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
					}
				} else {
					verify = func() bool {
						sum := sha256.Sum256(input)
						return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b, processCPU())
			for i := 0; i < b.N; i++ {
				if !verify() {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

// reportCPU reports the CPU time used since start, per operation.
func reportCPU(b *testing.B, start time.Duration) {
	if end := processCPU(); end > start {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
