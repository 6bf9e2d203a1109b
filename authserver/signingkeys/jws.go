package signingkeys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// The compact JWS serialization (RFC 7515 §7.1) of our access tokens,
// signed and verified without go-jose on the hot path: go-jose renders and
// parses the protected header through reflection-based JSON on every
// token, twice when signing (test/load/README.md, "Why the hot path is
// written as it is"). The output is byte for byte what go-jose v4 produces
// for the same key, header and payload (RS256 and EdDSA signatures are
// deterministic, so the whole token is). Verification reads no header: a
// token's protected header must be, byte for byte, one this server
// rendered for a published key (KeyManager.Verify), so what we accept is
// a subset of what go-jose accepts with our algorithms (jws_test.go and
// FuzzVerifyCompact hold both to that).

// b64 is the base64url encoding without padding of RFC 7515 §2. Strict:
// the unused bits of the last character must be zero, so that a token has
// one encoding only.
var b64 = base64.RawURLEncoding.Strict()

// maxTokenLen bounds what the parser reads, and so what introspection and
// revocation try to parse: our access tokens are well under 2 KiB.
const maxTokenLen = 8 << 10

// Size limits of the parser. Our headers are about 100 bytes; an RS256
// signature of a 4096-bit key is 683 characters.
const (
	maxHeaderLen    = 1 << 10
	maxSignatureLen = 1 << 10
)

// ecP256Size is the size of r and of s in an ES256 signature (RFC 7518
// §3.4): the signature is their 32-byte big-endian encodings concatenated.
const ecP256Size = 32

// p256Order is n, the order of P-256's group, and p256HalfOrder ⌊n/2⌋ as
// 32 bytes big-endian: the largest s of a low-S signature.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1).FillBytes(make([]byte, ecP256Size))
)

// p256LowS reports whether the ES256 signature r‖s has s ≤ ⌊n/2⌋. ECDSA
// is malleable: (r, n−s) is as valid as (r, s), so every signature has a
// twin and exactly one of the two is low-S. We sign low-S only and refuse
// the twin, so that each token has exactly one valid encoding: nothing
// keyed on a token's bytes (a cache, a log search, a denylist of tokens)
// can be sidestepped by presenting its twin.
func p256LowS(sig []byte) bool {
	return len(sig) == 2*ecP256Size && bytes.Compare(sig[ecP256Size:], p256HalfOrder) <= 0
}

// jwsSigner signs with one key: the protected header, rendered and
// base64url-encoded once, and the private key used directly.
type jwsSigner struct {
	// pub is the verifier of the key's public half: its alg and header
	// (base64url({"alg":…,"kid":…,"typ":"at+jwt"}), the keys in the order
	// go-jose writes them, sorted) are the signer's.
	pub jwsVerifier
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

// newJWSSigner returns the signer of key kid for alg (RS256, ES256 or
// EdDSA). It fails, as newJWSVerifier does for the public half, if the
// key's type does not fit alg, or if an ECDSA key is not on P-256 (RFC
// 7518 §3.4).
func newJWSSigner(alg, kid string, key crypto.PrivateKey) (*jwsSigner, error) {
	priv, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	pub, err := newJWSVerifier(alg, kid, priv.Public())
	if err != nil {
		return nil, err
	}
	s := &jwsSigner{pub: *pub}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		s.rsa = k
	case *ecdsa.PrivateKey:
		s.ec = k
	case ed25519.PrivateKey:
		s.ed = k
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return s, nil
}

// renderHeader returns the base64url of the protected header of our access
// tokens: {"alg":alg,"kid":kid,"typ":"at+jwt"} (RFC 7515 §4.1, RFC 9068
// §2.1), the members sorted as go-jose writes them.
func renderHeader(alg, kid string) (string, error) {
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, "at+jwt"})
	if err != nil {
		return "", fmt.Errorf("render header of key %s: %w", kid, err)
	}
	return b64.EncodeToString(hdr), nil
}

// sign returns the compact JWS (RFC 7515 §7.1) of payload:
// header.payload.signature, each part base64url without padding. The
// signature is over the ASCII of header.payload (RFC 7515 §5.1): RSASSA-
// PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), ECDSA P-256 with SHA-256 as
// the 64-byte r‖s (RFC 7518 §3.4), or Ed25519 (RFC 8037 §3.1). One
// buffer holds the token from the start, sized for the signature.
func (s *jwsSigner) sign(payload []byte) (string, error) {
	var sigLen int
	switch {
	case s.rsa != nil:
		sigLen = s.rsa.Size()
	case s.ec != nil:
		sigLen = 2 * ecP256Size
	default:
		sigLen = ed25519.SignatureSize
	}
	hdr := s.pub.header
	n := len(hdr) + 1 + b64.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+b64.EncodedLen(sigLen))
	copy(buf, hdr)
	buf[len(hdr)] = '.'
	b64.Encode(buf[len(hdr)+1:], payload)
	return s.appendSignature(buf)
}

// appendSignature signs input (the signing input, header.payload) and
// returns input.signature.
func (s *jwsSigner) appendSignature(input []byte) (string, error) {
	var sig []byte
	var err error
	switch {
	case s.rsa != nil:
		sum := sha256.Sum256(input)
		sig, err = rsa.SignPKCS1v15(nil, s.rsa, crypto.SHA256, sum[:])
	case s.ec != nil:
		sum := sha256.Sum256(input)
		sig, err = signES256(s.ec, sum[:])
	default:
		sig = ed25519.Sign(s.ed, input)
	}
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", s.pub.alg, err)
	}
	input = append(input, '.')
	input = b64.AppendEncode(input, sig)
	return string(input), nil
}

// signES256 signs hash and returns r‖s, each left-padded to 32 bytes (RFC
// 7518 §3.4), from the ASN.1 signature crypto/ecdsa produces, with s
// replaced by n−s when it is high (p256LowS).
func signES256(key *ecdsa.PrivateKey, hash []byte) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand.Reader, key, hash)
	if err != nil {
		return nil, err
	}
	var r, s []byte
	in, inner := cryptobyte.String(der), cryptobyte.String(nil)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() ||
		len(r) > ecP256Size || len(s) > ecP256Size {
		return nil, errors.New("crypto/ecdsa returned a malformed signature")
	}
	out := make([]byte, 2*ecP256Size)
	copy(out[ecP256Size-len(r):ecP256Size], r)
	copy(out[2*ecP256Size-len(s):], s)
	if !p256LowS(out) {
		high := new(big.Int).SetBytes(out[ecP256Size:])
		high.Sub(p256Order, high).FillBytes(out[ecP256Size:])
	}
	return out, nil
}

// jwsVerifier verifies signatures of one published key; the public key is
// decoded once, when the key set is loaded, not per token.
type jwsVerifier struct {
	alg string
	// header is the base64url protected header our signer writes for
	// this key, the only one a token verified with it may carry.
	header string
	rsa    *rsa.PublicKey
	ec     *ecdsa.PublicKey
	ed     ed25519.PublicKey
}

// newJWSVerifier returns the verifier of key kid for alg; it fails if the
// key's type does not fit alg.
func newJWSVerifier(alg, kid string, key crypto.PublicKey) (*jwsVerifier, error) {
	v := &jwsVerifier{alg: alg}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != RS256 {
			return nil, fmt.Errorf("an RSA key cannot verify %s", alg)
		}
		v.rsa = k
	case *ecdsa.PublicKey:
		if alg != ES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an ECDSA key on %s cannot verify %s", k.Curve.Params().Name, alg)
		}
		v.ec = k
	case ed25519.PublicKey:
		if alg != EdDSA || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("an Ed25519 key cannot verify %s", alg)
		}
		v.ed = k
	default:
		return nil, fmt.Errorf("unsupported public key type %T", key)
	}
	hdr, err := renderHeader(alg, kid)
	if err != nil {
		return nil, err
	}
	v.header = hdr
	return v, nil
}

// verify reports whether sig is a valid signature of signingInput
// (header.payload as it appears in the token) under v's key and alg.
func (v *jwsVerifier) verify(signingInput string, sig []byte) bool {
	switch {
	case v.rsa != nil:
		sum := sha256.Sum256([]byte(signingInput))
		return rsa.VerifyPKCS1v15(v.rsa, crypto.SHA256, sum[:], sig) == nil
	case v.ec != nil:
		if !p256LowS(sig) {
			return false
		}
		sum := sha256.Sum256([]byte(signingInput))
		return ecdsa.VerifyASN1(v.ec, sum[:], derSignature(sig[:ecP256Size], sig[ecP256Size:]))
	default:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(v.ed, []byte(signingInput), sig)
	}
}

// derSignature encodes r and s (unsigned big-endian, 32 bytes each) as the
// ASN.1 SEQUENCE of two INTEGERs crypto/ecdsa verifies: leading zeros
// dropped, a zero byte added where the top bit is set (DER, X.690 §8.3).
// A zero r or s encodes as INTEGER 0, which crypto/ecdsa rejects.
func derSignature(r, s []byte) []byte {
	r, s = bytes.TrimLeft(r, "\x00"), bytes.TrimLeft(s, "\x00")
	out := make([]byte, 0, 2+2*(2+1+ecP256Size))
	out = append(out, 0x30, 0)
	out = appendDERInteger(out, r)
	out = appendDERInteger(out, s)
	out[1] = byte(len(out) - 2) // at most 70: the short form
	return out
}

func appendDERInteger(out, v []byte) []byte {
	switch {
	case len(v) == 0:
		return append(out, 0x02, 1, 0)
	case v[0]&0x80 != 0:
		out = append(out, 0x02, byte(len(v)+1), 0)
	default:
		out = append(out, 0x02, byte(len(v)))
	}
	return append(out, v...)
}

// errMalformedJWS is why a token is not a compact JWS we accept; the
// parser says no more, since the reason would only help a forger.
var errMalformedJWS = errors.New("malformed compact JWS")

// parseCompact splits token into the parts of a compact JWS (RFC 7515
// §7.1): exactly three, each strictly base64url without padding (RFC 7515
// §2; only the characters A–Z a–z 0–9 - _ and the two dots, so no
// whitespace either), the whole at most maxTokenLen bytes, the header at
// most maxHeaderLen and the signature at most maxSignatureLen. It returns the encoded header, the
// signing input (header.payload, what the signature covers), the decoded
// payload and the decoded signature. It does not decode the header.
func parseCompact(token string) (hdr, signingInput string, payload, sig []byte, err error) {
	if len(token) > maxTokenLen {
		return "", "", nil, nil, errMalformedJWS
	}
	dots := 0
	first, second := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			dots++
			if first < 0 {
				first = i
			} else if second < 0 {
				second = i
			}
		default:
			return "", "", nil, nil, errMalformedJWS
		}
	}
	if dots != 2 {
		return "", "", nil, nil, errMalformedJWS
	}
	hdr, signingInput = token[:first], token[:second]
	enc, encSig := token[first+1:second], token[second+1:]
	if len(hdr) == 0 || len(hdr) > b64.EncodedLen(maxHeaderLen) || len(encSig) > b64.EncodedLen(maxSignatureLen) {
		return "", "", nil, nil, errMalformedJWS
	}
	payload, err = b64.DecodeString(enc)
	if err != nil {
		return "", "", nil, nil, errMalformedJWS
	}
	sig, err = b64.DecodeString(encSig)
	if err != nil {
		return "", "", nil, nil, errMalformedJWS
	}
	return hdr, signingInput, payload, sig, nil
}
