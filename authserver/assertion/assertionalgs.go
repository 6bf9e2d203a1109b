package assertion

import (
	"crypto/ed25519"
	"errors"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier"
)

// AlgEd25519 is the fully-specified JOSE name of EdDSA over Ed25519 (RFC
// 9864 §2.2), which current clients (openid-client 6, oauth4webapi 3) put
// in the alg of their assertions. It is the algorithm "EdDSA" names with
// an Ed25519 key (RFC 8037 §3.1), so either name verifies with either
// kind of JWK of that curve. go-jose v4 knows only "EdDSA": assertions
// under this name are verified by ed25519Verifier.
const AlgEd25519 = "Ed25519"

// assertionAlgs are the algorithms an app may sign with: asymmetric ones
// with a registered public key, HS256 with one of its sealed secrets
// (client_secret_jwt, RFC 7523 §2.2). "none" and everything else fail to parse.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA, AlgEd25519, jose.HS256}

// AssertionSigningAlgs are the algorithm names of assertionAlgs: the one
// source of every *_signing_alg_values_supported of the metadata (RFC
// 8414 §2) for client authentication by JWT.
func AssertionSigningAlgs() []string {
	out := make([]string, len(assertionAlgs))
	for i, a := range assertionAlgs {
		out[i] = string(a)
	}
	return out
}

// isEdDSA reports whether alg names EdDSA over Ed25519, by either name.
func isEdDSA(alg string) bool { return alg == string(jose.EdDSA) || alg == AlgEd25519 }

// assertionKeyFits reports whether k may verify an app's assertion signed
// with alg: verifier.KeyFits, except that an Ed25519 key whose JWK alg is
// unset, "EdDSA" or "Ed25519" fits both names of its algorithm (RFC 9864
// §2.2 makes "Ed25519" the fully-specified name of "EdDSA" with that
// curve). A JWK that names another alg fits only that alg.
func assertionKeyFits(k jose.JSONWebKey, alg string) bool {
	if !isEdDSA(alg) && !isEdDSA(k.Algorithm) {
		return verifier.KeyFits(k, alg)
	}
	if _, ok := k.Key.(ed25519.PublicKey); !ok {
		return false
	}
	return isEdDSA(alg) && (k.Algorithm == "" || isEdDSA(k.Algorithm)) && (k.Use == "" || k.Use == "sig")
}

// verificationKey is what go-jose verifies an assertion of alg with, for
// a key that assertionKeyFits: the key itself, or for alg "Ed25519",
// which go-jose refuses as an unknown algorithm, an ed25519Verifier.
func verificationKey(k jose.JSONWebKey, alg string) any {
	if pub, ok := k.Key.(ed25519.PublicKey); ok && alg == AlgEd25519 {
		return ed25519Verifier{pub: pub}
	}
	return k.Key
}

// ed25519Verifier verifies pure Ed25519 signatures (RFC 8032 §5.1.7, RFC
// 8037 §3.1) under either JOSE name; go-jose still checks the header
// (crit) and computes the signing input.
type ed25519Verifier struct{ pub ed25519.PublicKey }

var _ jose.OpaqueVerifier = ed25519Verifier{}

var errEd25519Signature = errors.New("ed25519 signature is invalid")

// VerifyPayload implements jose.OpaqueVerifier.
func (v ed25519Verifier) VerifyPayload(payload, signature []byte, alg jose.SignatureAlgorithm) error {
	if !isEdDSA(string(alg)) || len(v.pub) != ed25519.PublicKeySize || len(signature) != ed25519.SignatureSize ||
		!ed25519.Verify(v.pub, payload, signature) {
		return errEd25519Signature
	}
	return nil
}

// KeyUsable reports whether key can verify some asymmetric assertion
// algorithm.
func KeyUsable(key jose.JSONWebKey) bool {
	for _, alg := range assertionAlgs {
		if alg != jose.HS256 && assertionKeyFits(key, string(alg)) {
			return true
		}
	}
	return false
}
