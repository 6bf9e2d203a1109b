package dpop

import (
	"errors"
	"strings"
)

// Error codes of a refused proof: the "error" member of a token endpoint's
// 400 answer (RFC 6749 §5.2) and the "error" parameter of a resource's
// WWW-Authenticate challenge (RFC 9449 §7.1, registered in §12.2).
const (
	// CodeInvalidProof: the DPoP proof is missing, malformed or fails a
	// check.
	CodeInvalidProof = "invalid_dpop_proof"
	// CodeUseNonce: the server requires a nonce of its own in the proof
	// (RFC 9449 §8, §9); the answer carries a fresh one in the DPoP-Nonce
	// header.
	CodeUseNonce = "use_dpop_nonce"
)

// The checks of RFC 9449 §4.3, one error each. Verify wraps them in an
// *Error; test them with errors.Is.
var (
	// ErrNoProof: the request has no DPoP header field.
	ErrNoProof = errors.New("dpop: no proof")
	// ErrMultipleProofs: the request has more than one DPoP header field
	// (§4.3 item 1).
	ErrMultipleProofs = errors.New("dpop: more than one proof")
	// ErrMalformed: the proof is not a compact JWS with JSON header and
	// claims (§4.3 item 2), is too long, repeats a member or names a
	// critical extension.
	ErrMalformed = errors.New("dpop: malformed proof")
	// ErrType: the typ header is not exactly dpop+jwt (§4.3 item 4).
	ErrType = errors.New("dpop: wrong typ")
	// ErrAlgorithm: the alg header is missing or not one the verifier
	// accepts (§4.3 item 5); none and MAC algorithms never are.
	ErrAlgorithm = errors.New("dpop: algorithm not accepted")
	// ErrKey: the jwk header is missing, holds private key members, or is
	// not a public key of the type and size alg needs (§4.3 item 7).
	ErrKey = errors.New("dpop: unacceptable jwk")
	// ErrSignature: the signature does not verify with the jwk (§4.3
	// item 6).
	ErrSignature = errors.New("dpop: invalid signature")
	// ErrJTI: the jti claim is missing, empty, not a string or too long
	// (§4.2, §4.3 item 3).
	ErrJTI = errors.New("dpop: invalid jti")
	// ErrMethod: the htm claim is not the request's method (§4.3 item 8).
	ErrMethod = errors.New("dpop: htm does not match")
	// ErrURI: the htu claim is not the request's URI (§4.3 item 9).
	ErrURI = errors.New("dpop: htu does not match")
	// ErrNonce: a nonce is required and the proof's is missing or not one
	// the server issued recently (§4.3 item 10, §8). Its code is
	// CodeUseNonce.
	ErrNonce = errors.New("dpop: nonce required")
	// ErrIssuedAt: the iat claim is missing or outside the accepted window
	// (§4.3 item 11, §11.1).
	ErrIssuedAt = errors.New("dpop: iat outside the accepted window")
	// ErrAccessTokenHash: an access token was presented and the ath claim
	// is missing or is not its hash (§4.3 item 12).
	ErrAccessTokenHash = errors.New("dpop: ath does not match the access token")
	// ErrKeyMismatch: Request.JKT is set and the proof's key has another
	// thumbprint (§7.1).
	ErrKeyMismatch = errors.New("dpop: proof key does not match cnf.jkt")
	// ErrReplay: a proof with the same key, URI and jti was accepted
	// before, within the window (§11.1).
	ErrReplay = errors.New("dpop: proof replayed")
)

// Error is why Verify refused a proof. Code and Description are meant for
// the client: the token endpoint answers 400 with {"error": Code,
// "error_description": Description}; a resource answers 401 with the
// WWW-Authenticate value of Challenge. Neither ever contains the proof,
// one of its claims or the access token.
type Error struct {
	// Code is CodeInvalidProof or CodeUseNonce.
	Code string
	// Description says which check failed, in a sentence safe to send.
	Description string
	// Nonce, with CodeUseNonce, is the value to send in the DPoP-Nonce
	// response header (RFC 9449 §8.1).
	Nonce string
	err   error
}

// Error returns the code and the description.
func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Unwrap returns the sentinel of the failed check (ErrMalformed, ...).
func (e *Error) Unwrap() error { return e.err }

func invalid(sentinel error, description string) *Error {
	return &Error{Code: CodeInvalidProof, Description: description, err: sentinel}
}

// Challenge returns the value of a WWW-Authenticate header for the DPoP
// scheme (RFC 9449 §7.1): `DPoP error="...", error_description="...",
// algs="ES256 PS256"`. code is an error code (CodeInvalidProof,
// CodeUseNonce, or RFC 6750's invalid_token when a valid proof's key is
// not the token's cnf.jkt); with code "" the challenge names only algs, as
// for a request that carried no credentials (RFC 6750 §3.1). algs are the
// accepted algorithms, Verifier.Algorithms. Characters that a quoted
// error or error_description may not contain (RFC 6750 §3: only %x20-21,
// %x23-5B, %x5D-7E) are dropped.
func Challenge(code, description string, algs []string) string {
	var b strings.Builder
	b.WriteString("DPoP")
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(value)
		b.WriteByte('"')
		sep = ", "
	}
	if code != "" {
		param("error", challengeSafe(code))
		if description != "" {
			param("error_description", challengeSafe(description))
		}
	}
	if len(algs) > 0 {
		param("algs", challengeSafe(strings.Join(algs, " ")))
	}
	return b.String()
}

// challengeSafe keeps the characters RFC 6750 §3 allows in error and
// error_description: printable ASCII but '"' and '\'.
func challengeSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
