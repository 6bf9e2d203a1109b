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
	"math/big"
	"strings"
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
// so no whitespace either), at most maxProofLen bytes in all. It does not
// read the JSON. An empty signature is left for the alg check to refuse
// (an "alg":"none" proof has one), so that the error names the real
// fault.
func parseCompact(proof string) (*compactJWS, error) {
	if len(proof) > maxProofLen {
		return nil, invalid(ErrMalformed, "proof is longer than 8192 bytes")
	}
	// The strict decoder refuses every byte outside the alphabet but the
	// line breaks it skips, so those are the only ones to look for.
	first := strings.IndexByte(proof, '.')
	second := strings.IndexByte(proof[first+1:], '.') + first + 1
	if first < 0 || second == first || strings.IndexByte(proof[second+1:], '.') >= 0 ||
		strings.IndexByte(proof, '\n') >= 0 || strings.IndexByte(proof, '\r') >= 0 {
		return nil, invalid(ErrMalformed, "proof is not a compact JWS of three base64url parts")
	}
	header, errH := b64.DecodeString(proof[:first])
	payload, errP := b64.DecodeString(proof[first+1 : second])
	sig, errS := b64.DecodeString(proof[second+1:])
	if errH != nil || errP != nil || errS != nil {
		return nil, invalid(ErrMalformed, "proof part is not strict base64url")
	}
	return &compactJWS{header: header, payload: payload, signature: sig, signingInput: proof[:second]}, nil
}

// errNotObject is why readObject refused its input; callers turn it into
// the *Error of what they were reading.
var errNotObject = errors.New("not a JSON object with distinct members")

// readObject decodes data as exactly one JSON object and calls member with
// each member's name and raw value, in order. It refuses anything else:
// invalid JSON or UTF-8 (RFC 8259 §8.1; encoding/json would replace the
// invalid bytes, so that two proofs could read alike), another JSON type, more than maxMembers members, and a
// member name twice (RFC 7515 §4 and RFC 7519 §4 allow a parser to take
// the last of duplicates; refusing leaves no doubt which one was signed).
// Names compare exactly, after unescaping, unlike encoding/json's
// case-insensitive struct fields. An error from member is returned as is.
//
// json.Valid checks the syntax first, so the walk below only has to find
// where each name and value ends; it allocates nothing but escaped names,
// where encoding/json's Decoder.Token cost a third of a proof check.
func readObject(data []byte, member func(name string, value []byte) error) error {
	if !utf8.Valid(data) || !json.Valid(data) {
		return errNotObject
	}
	return walkObject(data, member)
}

// walkObject is readObject on data known to be valid UTF-8 and JSON: a
// document readObject accepted, or an object value within one.
func walkObject(data []byte, member func(name string, value []byte) error) error {
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return errNotObject
	}
	i = skipSpace(data, i+1)
	var names [maxMembers]string
	count := 0
	for data[i] != '}' {
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := endOfString(data, i)
		name, ok := jsonString(data[i:end])
		if !ok || count == maxMembers {
			return errNotObject
		}
		for _, seen := range names[:count] {
			if seen == name {
				return errNotObject
			}
		}
		names[count] = name
		count++
		i = skipSpace(data, skipSpace(data, end)+1) // past the ':'
		end = endOfValue(data, i)
		if err := member(name, data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
	}
	return nil
}

// The helpers of readObject read valid JSON only, so they need no bounds
// or syntax checks beyond it.

// skipSpace returns the index of the first byte from i that is not JSON
// whitespace (RFC 8259 §2).
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string that starts at i.
func endOfString(data []byte, i int) int {
	for i++; data[i] != '"'; i++ {
		if data[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// endOfValue returns the index just past the value that starts at i.
func endOfValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return endOfString(data, i)
	case '{', '[':
		depth := 0
		for {
			switch data[i] {
			case '"':
				i = endOfString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // a number, true, false or null
		for ; i < len(data); i++ {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// jsonString decodes a raw JSON value that must be a string. Without
// escapes it is the bytes between the quotes.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
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
