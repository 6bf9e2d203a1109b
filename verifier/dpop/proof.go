package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// ProofParams describe the request a client makes a proof for (RFC 9449
// §4.2).
type ProofParams struct {
	// Method is the request's method, the htm claim ("POST"). Required.
	Method string
	// URI is the absolute http or https URI the request is sent to; the
	// htu claim is URI without its query and fragment (§4.2). Required.
	URI string
	// AccessToken is the access token the request carries with the DPoP
	// scheme, at a resource; the proof then carries its hash, ath =
	// base64url(SHA-256(AccessToken)) (§4.2, §7). Empty at a token
	// endpoint.
	AccessToken string
	// Nonce is the server's latest DPoP-Nonce (§8, §9), if it sent one:
	// the nonce claim. Empty: no nonce claim.
	Nonce string
	// Algorithm is the alg to sign with: ES256 for a P-256 key, EdDSA or
	// Ed25519 (RFC 9864's name) for an Ed25519 key, RS256 or PS256 for an
	// RSA key of 2048 to 4096 bits. Empty: ES256, EdDSA or RS256, by the
	// key's type.
	Algorithm string
	// Now is the proof's iat (RFC 7519 NumericDate, whole seconds); zero
	// means time.Now().
	Now time.Time
}

// proofClaims are a proof's claims, in the order RFC 9449 §4.2 lists
// them.
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// NewProof returns a DPoP proof (RFC 9449 §4.2), a compact JWS signed by
// key, for one request: protected header typ "dpop+jwt", alg and the
// public key as jwk (its required members only, RFC 7638 §3.2); claims
// jti (128 random bits, base64url, so every proof is fresh), htm, htu,
// iat, and ath and nonce when p has them. key is the client's DPoP key:
// an *ecdsa.PrivateKey on P-256, an ed25519.PrivateKey, an
// *rsa.PrivateKey, or any crypto.Signer whose Public is one of those (a
// key in an HSM or agent). Every proof is for one request only: a server
// refuses a second use of its jti (§11.1).
//
// Errors: an empty Method, a URI that is not an absolute http or https
// URI with a host, an Algorithm that does not fit the key, an
// unsupported key type or size, or the signer's own failure.
func NewProof(key crypto.Signer, p ProofParams) (string, error) {
	if key == nil {
		return "", errors.New("dpop: NewProof: no key")
	}
	if p.Method == "" || strings.ContainsAny(p.Method, " \t\r\n") {
		return "", errors.New("dpop: NewProof: Method must be an HTTP method")
	}
	htu, err := targetURI(p.URI)
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: URI: %w", err)
	}
	pub := key.Public()
	alg, err := proofAlgorithm(pub, p.Algorithm)
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: %w", err)
	}
	jwk, err := requiredMembers(pub)
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: %w", err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := proofClaims{JTI: b64.EncodeToString(id[:]), HTM: p.Method, HTU: htu, IAT: now.Unix(), Nonce: p.Nonce}
	if p.AccessToken != "" {
		c.ATH = AccessTokenHash(p.AccessToken)
	}
	claims, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: claims: %w", err)
	}
	// alg is one of ours and jwk is base64url values only: neither needs
	// escaping.
	header := `{"typ":"dpop+jwt","alg":"` + alg + `","jwk":` + jwk + `}`
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(claims)
	sig, err := signProof(key, alg, []byte(input))
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: sign %s: %w", alg, err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// targetURI checks that raw is an absolute http(s) URI with a host and
// returns it without its query and fragment (RFC 9449 §4.2, htu); the
// rest is kept as given, since the server normalises both sides.
func targetURI(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URI")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", errors.New("not an absolute http or https URI with a host and no userinfo")
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String(), nil
}

// proofAlgorithm returns the alg a proof by a key with public key pub is
// signed with: alg when it fits the key, the key type's default when alg
// is empty. The keys are those Verify accepts (parseJWK).
func proofAlgorithm(pub crypto.PublicKey, alg string) (string, error) {
	var fits []string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("an EC key must be on P-256 (ES256)")
		}
		fits = []string{algES256}
	case ed25519.PublicKey:
		fits = []string{algEdDSA, algEd25519}
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return "", fmt.Errorf("an RSA key must have %d to %d bits", minRSABits, maxRSABits)
		}
		fits = []string{algRS256, algPS256}
	default:
		return "", fmt.Errorf("unsupported key type %T (P-256, Ed25519 or RSA)", pub)
	}
	if alg == "" {
		return fits[0], nil
	}
	for _, a := range fits {
		if a == alg {
			return alg, nil
		}
	}
	return "", fmt.Errorf("alg %q does not fit a %s key (%s)", alg, keyKind(pub), strings.Join(fits, " or "))
}

func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return "P-256"
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return "RSA"
	}
}

// signProof signs input as alg requires (the verification side is
// verifySignature): ES256 as the 64-byte r‖s of RFC 7518 §3.4 (a
// crypto.Signer gives ASN.1), Ed25519 over the input itself, RS256 and
// PS256 (salt the hash's length, RFC 7518 §3.5) over its SHA-256.
func signProof(key crypto.Signer, alg string, input []byte) ([]byte, error) {
	if alg == algEdDSA || alg == algEd25519 {
		return key.Sign(rand.Reader, input, crypto.Hash(0))
	}
	sum := sha256.Sum256(input)
	switch alg {
	case algES256:
		der, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
			return nil, errors.New("the signer's ECDSA signature is not ASN.1 (r, s)")
		}
		if rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
			return nil, errors.New("the signer's ECDSA signature is not a P-256 one")
		}
		sig := make([]byte, ecP256SigSize)
		rs.R.FillBytes(sig[:ecP256SigSize/2])
		rs.S.FillBytes(sig[ecP256SigSize/2:])
		return sig, nil
	case algPS256:
		return key.Sign(rand.Reader, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	default: // RS256
		return key.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
}

// AccessTokenHash is the ath claim for token (RFC 9449 §4.2): the
// base64url (unpadded) SHA-256 of its ASCII bytes, 43 characters.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.EncodeToString(sum[:])
}
