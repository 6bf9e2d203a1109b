package verifier

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strings"
)

// ecdsaHalfOrders are ⌊n/2⌋ of the group order n of each ECDSA alg's
// curve, big-endian, as long as s is in its signatures (RFC 7518 §3.4).
var ecdsaHalfOrders = map[string][]byte{
	"ES256": halfOrder(elliptic.P256(), 32),
	"ES384": halfOrder(elliptic.P384(), 48),
	"ES512": halfOrder(elliptic.P521(), 66),
}

func halfOrder(c elliptic.Curve, size int) []byte {
	return new(big.Int).Rsh(c.Params().N, 1).FillBytes(make([]byte, size))
}

// highS reports whether token, a compact JWS whose signature verified
// under the ECDSA alg, has s > ⌊n/2⌋. ECDSA is malleable: (r, n−s)
// verifies wherever (r, s) does, so every token has a twin. The
// authorization server signs low-S only, so the high-S twin of one of its
// tokens is refused, and each token has one valid encoding. Other algs
// report false; a signature that cannot be read reports true.
func highS(token, alg string) bool {
	half, ok := ecdsaHalfOrders[alg]
	if !ok {
		return false
	}
	// Decoded as go-jose decodes it, which has just verified it.
	enc := strings.TrimRight(token[strings.LastIndexByte(token, '.')+1:], "=")
	sig, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(sig) != 2*len(half) {
		return true
	}
	return bytes.Compare(sig[len(half):], half) > 0
}
