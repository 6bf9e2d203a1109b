package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"unicode/utf8"
)

// The algorithms a proof may be signed with (RFC 9449 §4.2: asymmetric,
// never none or a MAC). Ed25519 is RFC 9864's fully-specified name for
// EdDSA with an Ed25519 key; EdDSA is accepted only with that curve too.
const (
	algES256   = "ES256"
	algEdDSA   = "EdDSA"
	algEd25519 = "Ed25519"
	algRS256   = "RS256"
	algPS256   = "PS256"
)

// supportedAlgorithms are every alg Config.Algorithms may name, and its
// default, in the order metadata and challenges list them.
var supportedAlgorithms = [...]string{algES256, algEdDSA, algEd25519, algRS256, algPS256}

// b64 is the base64url encoding without padding of RFC 7515 §2, strict:
// the unused bits of the last character must be zero, so that a value has
// one encoding only.
var b64 = base64.RawURLEncoding.Strict()

// Size limits. A proof with a 4096-bit RSA jwk and signature is about 2.2
// KB plus its htu; claims and header members are otherwise short.
const (
	maxProofLen   = 8 << 10
	maxMembers    = 32
	maxJTILen     = 256
	ecP256SigSize = 64
)

// compactJWS is a proof split into its parts (RFC 7515 §7.1).
type compactJWS struct {
	header       []byte // decoded protected header (JSON)
	payload      []byte // decoded claims (JSON)
	signature    []byte
	signingInput string // header.payload as sent: what the signature covers
}

// parseCompact splits a compact JWS: exactly three parts, each strictly
// base64url without padding (only A–Z a–z 0–9 - _ between the two dots,
// so no whitespace either), at most maxProofLen bytes in all, header and
// claims valid UTF-8. It does not read the JSON. An empty signature is
// left for the alg check to refuse (an "alg":"none" proof has one), so
// that the error names the real fault.
func parseCompact(proof string) (*compactJWS, error) {
	if len(proof) > maxProofLen {
		return nil, invalid(ErrMalformed, "proof is longer than 8192 bytes")
	}
	first, second := -1, -1
	for i := 0; i < len(proof); i++ {
		c := proof[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.' && first < 0:
			first = i
		case c == '.' && second < 0:
			second = i
		default:
			return nil, invalid(ErrMalformed, "proof is not a compact JWS of three base64url parts")
		}
	}
	if second < 0 {
		return nil, invalid(ErrMalformed, "proof is not a compact JWS of three base64url parts")
	}
	header, errH := b64.DecodeString(proof[:first])
	payload, errP := b64.DecodeString(proof[first+1 : second])
	sig, errS := b64.DecodeString(proof[second+1:])
	if errH != nil || errP != nil || errS != nil {
		return nil, invalid(ErrMalformed, "proof part is not strict base64url")
	}
	if !utf8.Valid(header) || !utf8.Valid(payload) {
		return nil, invalid(ErrMalformed, "proof header or claims are not UTF-8")
	}
	return &compactJWS{header: header, payload: payload, signature: sig, signingInput: proof[:second]}, nil
}

// errNotObject is why readObject refused its input; callers turn it into
// the *Error of what they were reading.
var errNotObject = errors.New("not a JSON object with distinct members")

// readObject decodes data as exactly one JSON object and calls member with
// each member's name and raw value, in order. It refuses anything else:
// another JSON type, trailing data, more than maxMembers members, and a
// member name twice (RFC 7515 §4 and RFC 7519 §4 allow a parser to take
// the last of duplicates; refusing leaves no doubt which one was signed).
// Names compare exactly, unlike encoding/json's case-insensitive struct
// fields. An error from member is returned as is.
func readObject(data []byte, member func(name string, value []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errNotObject
	}
	var names [maxMembers]string
	count := 0
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok || count == maxMembers {
			return errNotObject
		}
		for _, seen := range names[:count] {
			if seen == name {
				return errNotObject
			}
		}
		names[count] = name
		count++
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return errNotObject
		}
		if err := member(name, value); err != nil {
			return err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return errNotObject
	}
	return nil
}

// jsonString decodes a raw JSON value that must be a string.
func jsonString(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// verifySignature reports whether sig is a valid alg signature of
// signingInput under key (which parseJWK made to fit alg): ECDSA P-256
// with SHA-256 as the 64-byte r‖s (RFC 7518 §3.4), Ed25519 (RFC 8037
// §3.1), RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), RSASSA-PSS with
// SHA-256, MGF1 with SHA-256 and a 32-byte salt (RFC 7518 §3.5).
func verifySignature(alg string, key crypto.PublicKey, signingInput string, sig []byte) bool {
	switch alg {
	case algES256:
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || len(sig) != ecP256SigSize {
			return false
		}
		sum := sha256.Sum256([]byte(signingInput))
		r := new(big.Int).SetBytes(sig[:ecP256SigSize/2])
		s := new(big.Int).SetBytes(sig[ecP256SigSize/2:])
		return ecdsa.Verify(pub, sum[:], r, s)
	case algEdDSA, algEd25519:
		pub, ok := key.(ed25519.PublicKey)
		return ok && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, []byte(signingInput), sig)
	case algRS256:
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return false
		}
		sum := sha256.Sum256([]byte(signingInput))
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	case algPS256:
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return false
		}
		sum := sha256.Sum256([]byte(signingInput))
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}
