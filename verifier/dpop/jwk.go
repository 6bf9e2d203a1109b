package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
)

// RSA moduli accepted in a proof's jwk, in bits. The floor is the usual
// one for RS256 and PS256 (RFC 7518 §3.3 requires 2048); the ceiling
// bounds what one request can make the server spend, since anyone can send
// a proof with a garbage signature: verifying under a 4096-bit modulus
// costs about four times a 2048-bit one.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// privateMembers are the JWK members that hold private key material (RFC
// 7518 §6.2.2 and §6.3.2 for EC and RSA, RFC 8037 §2 for OKP, §6.4.1 for
// symmetric keys). A proof whose jwk has any of them is refused (RFC 9449
// §4.3 item 7): whoever made it has published the private key.
var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"}

// publicJWK is the part of a JWK (RFC 7517 §4) a proof's key is built
// from; every other member is ignored, as RFC 7517 §4 asks.
type publicJWK struct {
	kty, crv, x, y, n, e string
}

// parseJWK reads the jwk header member (a JSON object within a header
// readObject accepted, so not checked again) and returns the public key
// it holds if that key fits alg: an EC P-256 key for ES256, an
// OKP Ed25519 key for EdDSA and Ed25519, an RSA key of 2048 to 4096 bits
// for RS256 and PS256. Coordinates and moduli must be in the one encoding
// RFC 7518 allows (EC coordinates the full 32 bytes, RSA integers without
// leading zero octets), so the RFC 7638 thumbprint of the parsed key is
// also the one computed from the members as sent. Errors are *Error with
// ErrKey.
func parseJWK(raw []byte, alg string) (crypto.PublicKey, error) {
	var j publicJWK
	var private string
	err := walkObject(raw, func(name string, value []byte) error {
		for _, m := range privateMembers {
			if name == m && private == "" {
				private = m
			}
		}
		var dst *string
		switch name {
		case "kty":
			dst = &j.kty
		case "crv":
			dst = &j.crv
		case "x":
			dst = &j.x
		case "y":
			dst = &j.y
		case "n":
			dst = &j.n
		case "e":
			dst = &j.e
		default:
			return nil
		}
		s, ok := jsonString(value)
		if !ok {
			return invalid(ErrKey, "jwk member "+name+" is not a string")
		}
		*dst = s
		return nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, invalid(ErrKey, "jwk is not a JSON object with distinct members")
	}
	if private != "" {
		return nil, invalid(ErrKey, "jwk holds private key member "+private)
	}
	switch alg {
	case algES256:
		if j.kty != "EC" || j.crv != "P-256" {
			return nil, invalid(ErrKey, "ES256 needs a jwk with kty EC and crv P-256")
		}
		x, errX := b64.DecodeString(j.x)
		y, errY := b64.DecodeString(j.y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, invalid(ErrKey, "jwk x and y must be 32-byte base64url coordinates")
		}
		point := make([]byte, 0, 65)
		point = append(append(append(point, 4), x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, invalid(ErrKey, "jwk is not a point on P-256")
		}
		return pub, nil
	case algEdDSA, algEd25519:
		if j.kty != "OKP" || j.crv != "Ed25519" {
			return nil, invalid(ErrKey, alg+" needs a jwk with kty OKP and crv Ed25519")
		}
		x, err := b64.DecodeString(j.x)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, invalid(ErrKey, "jwk x must be a 32-byte base64url Ed25519 key")
		}
		return ed25519.PublicKey(x), nil
	case algRS256, algPS256:
		if j.kty != "RSA" {
			return nil, invalid(ErrKey, alg+" needs a jwk with kty RSA")
		}
		n, errN := b64.DecodeString(j.n)
		e, errE := b64.DecodeString(j.e)
		if errN != nil || errE != nil || len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, invalid(ErrKey, "jwk n and e must be base64url integers without leading zeros")
		}
		var exp uint64
		for _, b := range e {
			exp = exp<<8 | uint64(b)
		}
		if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
			return nil, invalid(ErrKey, "jwk e must be an odd exponent from 3 to 2^31-1")
		}
		mod := new(big.Int).SetBytes(n)
		if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, invalid(ErrKey, fmt.Sprintf("jwk RSA modulus must have %d to %d bits", minRSABits, maxRSABits))
		}
		return &rsa.PublicKey{N: mod, E: int(exp)}, nil
	}
	// New accepts only the algorithms above.
	return nil, invalid(ErrAlgorithm, "alg is not accepted")
}

// Thumbprint returns the JWK SHA-256 thumbprint (RFC 7638 §3) of a public
// key, base64url without padding (43 characters): the value of cnf.jkt
// (RFC 9449 §6.1) and of Proof.JKT. key is an *ecdsa.PublicKey on P-256,
// P-384 or P-521, an ed25519.PublicKey (RFC 8037 §2) or an
// *rsa.PublicKey; a go-jose JSONWebKey's Key field is one of these. Any
// other type is an error.
func Thumbprint(key crypto.PublicKey) (string, error) {
	members, err := requiredMembers(key)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	sum := sha256.Sum256([]byte(members))
	return b64.EncodeToString(sum[:]), nil
}

// requiredMembers renders a public key as the JSON object of its key
// type's required JWK members, in lexicographic order and without
// whitespace (RFC 7638 §3.2, §3.3): the input of its thumbprint, and a
// valid public JWK (RFC 7517 §4) that NewProof puts in a proof's header.
// base64url values need no escaping.
func requiredMembers(key crypto.PublicKey) (string, error) {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		var crv string
		switch k.Curve {
		case elliptic.P256():
			crv = "P-256"
		case elliptic.P384():
			crv = "P-384"
		case elliptic.P521():
			crv = "P-521"
		default:
			return "", errors.New("unsupported elliptic curve")
		}
		point, err := k.Bytes()
		if err != nil {
			return "", err
		}
		// point is 0x04 ‖ x ‖ y, each coordinate the curve's full size as
		// RFC 7518 §6.2.1.2 requires.
		size := (len(point) - 1) / 2
		return `{"crv":"` + crv + `","kty":"EC","x":"` + b64.EncodeToString(point[1:1+size]) +
			`","y":"` + b64.EncodeToString(point[1+size:]) + `"}`, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("not a 32-byte Ed25519 key")
		}
		return `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(k) + `"}`, nil
	case *rsa.PublicKey:
		if k.N == nil || k.N.Sign() <= 0 || k.E <= 0 {
			return "", errors.New("invalid RSA key")
		}
		return `{"e":"` + b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()) +
			`","kty":"RSA","n":"` + b64.EncodeToString(k.N.Bytes()) + `"}`, nil
	default:
		return "", fmt.Errorf("unsupported key type %T", key)
	}
}

// ConfirmationMatches reports whether a bound token's cnf.jkt (RFC 9449
// §6.1) is the thumbprint of a verified proof's key (Proof.JKT), comparing
// in constant time. An empty cnfJKT (a token that is not bound) never
// matches. A resource that finds no match answers 401 with error
// invalid_token (RFC 9449 §7.1), not invalid_dpop_proof: the proof is
// valid, it is the token that belongs to another key.
func ConfirmationMatches(cnfJKT, proofJKT string) bool {
	if cnfJKT == "" || proofJKT == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(cnfJKT), []byte(proofJKT)) == 1
}
