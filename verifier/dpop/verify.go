package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of Config.Window.
const (
	defaultWindow = 60 * time.Second
	maxWindow     = 5 * time.Minute
)

// Config configures a Verifier.
type Config struct {
	// Algorithms are the alg values a proof may use, in the order
	// Algorithms reports them; each one of ES256, EdDSA, Ed25519 (RFC
	// 9864's name for EdDSA with Ed25519), RS256 and PS256. Default: all
	// five, in that order.
	Algorithms []string
	// Window is how far a proof's iat may be from the clock, either way
	// (RFC 9449 §11.1); default 60s, at most 5m. Accepted proofs are
	// remembered for up to twice the window.
	Window time.Duration
	// Replay remembers accepted proofs. Required.
	Replay ReplayCache
	// Nonces checks the nonce claim of requests that require one
	// (Request.RequireNonce) and makes the fresh nonce of a use_dpop_nonce
	// error. Optional when no request requires a nonce.
	Nonces *NonceSource
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier checks DPoP proofs. It is safe for concurrent use; build one
// per endpoint kind (token endpoint, resource) and share it.
type Verifier struct {
	algs   []string
	window time.Duration
	replay ReplayCache
	nonces *NonceSource
	now    func() time.Time
}

// New returns a Verifier. It fails when an algorithm is not one of the
// supported ones (none and MAC algorithms never are) or is listed twice,
// when Window is negative or over 5m, or when Replay is nil.
func New(cfg Config) (*Verifier, error) {
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = supportedAlgorithms[:]
	}
	for i, a := range algs {
		if !slices.Contains(supportedAlgorithms[:], a) {
			return nil, fmt.Errorf("dpop: algorithm %q is not supported (one of %s)", a, strings.Join(supportedAlgorithms[:], ", "))
		}
		if slices.Contains(algs[:i], a) {
			return nil, fmt.Errorf("dpop: algorithm %s is listed twice", a)
		}
	}
	if cfg.Window < 0 || cfg.Window > maxWindow {
		return nil, errors.New("dpop: Window must be between 0 and 5m")
	}
	if cfg.Window == 0 {
		cfg.Window = defaultWindow
	}
	if cfg.Replay == nil {
		return nil, errors.New("dpop: a ReplayCache is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{algs: slices.Clone(algs), window: cfg.Window, replay: cfg.Replay, nonces: cfg.Nonces, now: cfg.Now}, nil
}

// Algorithms returns the accepted alg values: the authorization server's
// dpop_signing_alg_values_supported metadata (RFC 9449 §5.1) and the algs
// parameter of a resource's challenge (§7.1). The slice is a copy.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Request is what Verify checks a proof against: the HTTP request that
// carried it.
type Request struct {
	// Proofs are the values of every DPoP header field of the request,
	// r.Header.Values("DPoP"); exactly one is accepted.
	Proofs []string
	// Method is the request's method ("POST"); htm must equal it exactly
	// (methods are case-sensitive, RFC 9110 §9.1).
	Method string
	// URI is the absolute URI the client sent the request to, as the
	// client sees it: behind a proxy, the configured public base URL and
	// r.URL's path, never a Host header taken on trust. Its query and
	// fragment are ignored.
	URI string
	// AccessToken is the token of an "Authorization: DPoP" header at a
	// resource; empty at a token endpoint. When set, the proof must carry
	// its hash in ath (RFC 9449 §4.2); when empty, ath is not read.
	AccessToken string
	// RequireNonce makes a nonce from Config.Nonces mandatory (RFC 9449
	// §8, §9). When false, a nonce claim is not read.
	RequireNonce bool
	// JKT, when set, is the cnf.jkt of the token the proof comes with:
	// the proof's key must have this thumbprint (§7.1), or Verify refuses
	// it with ErrKeyMismatch before recording it, so that proofs of
	// another key cost the replay cache nothing.
	JKT string
}

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url (43 characters): what a token is bound to (cnf.jkt, RFC
	// 9449 §6.1) and what a bound token's cnf.jkt must equal
	// (ConfirmationMatches).
	JKT string
	// Algorithm is the proof's alg.
	Algorithm string
	// JTI is the proof's unique identifier (jti claim).
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
}

// claims are a proof's claims as far as Verify reads them. Each ok flag
// says that the claim is present and of its type (a string; a number for
// iat).
type claims struct {
	jti, htm, htu, ath, nonce           string
	jtiOK, htmOK, htuOK, athOK, nonceOK bool
	iat                                 float64
	iatOK                               bool
}

// Verify checks the DPoP proof of one request (RFC 9449 §4.3) and
// records it in the replay cache. In order:
//
//  1. exactly one proof (Request.Proofs): ErrNoProof, ErrMultipleProofs;
//  2. a compact JWS of at most 8 KB whose header and claims are JSON
//     objects with distinct members, no crit header: ErrMalformed;
//  3. typ is exactly "dpop+jwt": ErrType;
//  4. alg is one of Algorithms: ErrAlgorithm;
//  5. jwk is a public key with no private members, of the type alg needs
//     (EC P-256, OKP Ed25519, RSA of 2048 to 4096 bits): ErrKey;
//  6. the signature verifies with that key: ErrSignature;
//  7. jti is a non-empty string of at most 256 bytes: ErrJTI;
//  8. htm equals Request.Method: ErrMethod;
//  9. htu equals Request.URI, both normalised (scheme and host lowercase,
//     default port dropped, percent-encoding and dot segments normalised,
//     query and fragment dropped; see normalizeHTTPURI): ErrURI;
//  10. with Request.RequireNonce, nonce is one Config.Nonces issued in the
//     previous, current or next period: ErrNonce, whose *Error has
//     CodeUseNonce and the fresh nonce;
//  11. iat is a number within Config.Window of the clock, either way:
//     ErrIssuedAt;
//  12. with Request.AccessToken, ath equals base64url(SHA-256(token)),
//     compared in constant time: ErrAccessTokenHash;
//  13. the replay cache has not seen the proof: ErrReplay. The key is
//     base64url(SHA-256(jkt, normalised htu, jti)), recorded until iat +
//     Window: a jti counts once per key and URI (the "context of the
//     target URI" of §11.1), so a client cannot spend another's jti, and
//     the store holds no client-chosen text.
//
// A refused proof is an *Error wrapping the check's sentinel, and only a
// proof that passed every check is recorded. Other errors are the
// caller's: an empty Method, a URI that is not absolute http(s), a
// required nonce without Config.Nonces, or the replay cache's own failure
// (answer 500 or 503, not invalid_dpop_proof). It does not compare JKT
// with a token's cnf.jkt: ConfirmationMatches does.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Proof, error) {
	if req.Method == "" {
		return nil, errors.New("dpop: Request.Method is empty")
	}
	uri, err := normalizeHTTPURI(req.URI)
	if err != nil {
		return nil, fmt.Errorf("dpop: Request.URI: %w", err)
	}
	if req.RequireNonce && v.nonces == nil {
		return nil, errors.New("dpop: a nonce is required but Config.Nonces is nil")
	}
	switch len(req.Proofs) {
	case 0:
		return nil, invalid(ErrNoProof, "DPoP header missing")
	case 1:
	default:
		return nil, invalid(ErrMultipleProofs, "more than one DPoP header")
	}
	jws, err := parseCompact(req.Proofs[0])
	if err != nil {
		return nil, err
	}
	alg, key, err := v.checkHeader(jws.header)
	if err != nil {
		return nil, err
	}
	if !verifySignature(alg, key, jws.signingInput, jws.signature) {
		return nil, invalid(ErrSignature, "signature does not verify with the jwk")
	}
	c, err := parseClaims(jws.payload)
	if err != nil {
		return nil, err
	}
	if !c.jtiOK || c.jti == "" || len(c.jti) > maxJTILen {
		return nil, invalid(ErrJTI, "jti must be a string of 1 to 256 bytes")
	}
	if !c.htmOK || c.htm != req.Method {
		return nil, invalid(ErrMethod, "htm does not match the request method")
	}
	if !c.htuOK {
		return nil, invalid(ErrURI, "htu missing")
	}
	if htu, err := normalizeHTTPURI(c.htu); err != nil || htu != uri {
		return nil, invalid(ErrURI, "htu does not match the request URI")
	}
	if req.RequireNonce && (!c.nonceOK || !v.nonces.Valid(c.nonce)) {
		desc := "nonce required"
		if c.nonceOK {
			desc = "nonce is not a current server nonce"
		}
		return nil, &Error{Code: CodeUseNonce, Description: desc, Nonce: v.nonces.Nonce(), err: ErrNonce}
	}
	now := v.now()
	if !c.iatOK {
		return nil, invalid(ErrIssuedAt, "iat must be a number")
	}
	iat, ok := v.checkIssuedAt(c.iat, now)
	if !ok {
		return nil, invalid(ErrIssuedAt, "iat is not within "+v.window.String()+" of the server's clock")
	}
	if req.AccessToken != "" {
		want := AccessTokenHash(req.AccessToken)
		if !c.athOK || subtle.ConstantTimeCompare([]byte(c.ath), []byte(want)) != 1 {
			return nil, invalid(ErrAccessTokenHash, "ath does not match the access token")
		}
	}
	jkt, err := Thumbprint(key)
	if err != nil {
		return nil, fmt.Errorf("dpop: thumbprint of a parsed key: %w", err)
	}
	if req.JKT != "" && !ConfirmationMatches(req.JKT, jkt) {
		return nil, invalid(ErrKeyMismatch, "the proof's key is not the one the access token is bound to")
	}
	seen, err := v.replay.Seen(ctx, replayKey(jkt, uri, c.jti), iat.Add(v.window))
	if err != nil {
		return nil, fmt.Errorf("dpop: replay cache: %w", err)
	}
	if seen {
		return nil, invalid(ErrReplay, "proof already used")
	}
	return &Proof{JKT: jkt, Algorithm: alg, JTI: c.jti, IssuedAt: iat}, nil
}

// checkHeader reads the protected header and returns its alg and the jwk's
// public key: typ first, then alg, then jwk, each refusal with its own
// sentinel.
func (v *Verifier) checkHeader(raw []byte) (string, crypto.PublicKey, error) {
	var typ, alg string
	var typOK, algOK bool
	var jwk []byte
	err := readObject(raw, func(name string, value []byte) error {
		switch name {
		case "typ":
			typ, typOK = jsonString(value)
		case "alg":
			alg, algOK = jsonString(value)
		case "jwk":
			jwk = value
		case "crit":
			// RFC 7515 §4.1.11: an extension we do not understand.
			return invalid(ErrMalformed, "crit header is not supported")
		}
		return nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", nil, e
		}
		return "", nil, invalid(ErrMalformed, "header is not a JSON object with distinct members")
	}
	if !typOK || typ != "dpop+jwt" {
		return "", nil, invalid(ErrType, "typ must be dpop+jwt")
	}
	if !algOK || !slices.Contains(v.algs, alg) {
		return "", nil, invalid(ErrAlgorithm, "alg must be one of "+strings.Join(v.algs, " "))
	}
	if len(jwk) == 0 || jwk[0] != '{' {
		return "", nil, invalid(ErrKey, "jwk header missing or not an object")
	}
	key, err := parseJWK(jwk, alg)
	if err != nil {
		return "", nil, err
	}
	return alg, key, nil
}

// parseClaims reads the claims a proof must or may carry (RFC 9449 §4.2);
// others are ignored. A claim of the wrong type counts as missing, for the
// check it belongs to.
func parseClaims(raw []byte) (*claims, error) {
	c := &claims{}
	err := readObject(raw, func(name string, value []byte) error {
		switch name {
		case "jti":
			c.jti, c.jtiOK = jsonString(value)
		case "htm":
			c.htm, c.htmOK = jsonString(value)
		case "htu":
			c.htu, c.htuOK = jsonString(value)
		case "ath":
			c.ath, c.athOK = jsonString(value)
		case "nonce":
			c.nonce, c.nonceOK = jsonString(value)
		case "iat":
			if value[0] == '-' || '0' <= value[0] && value[0] <= '9' {
				f, err := strconv.ParseFloat(string(value), 64)
				c.iat, c.iatOK = f, err == nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, invalid(ErrMalformed, "claims are not a JSON object with distinct members")
	}
	return c, nil
}

// checkIssuedAt reports whether iat (a NumericDate, RFC 7519 §2: seconds,
// possibly fractional) is within the window of now, both ends included,
// and returns it as a time.
func (v *Verifier) checkIssuedAt(iat float64, now time.Time) (time.Time, bool) {
	nowSec := float64(now.UnixNano()) / 1e9
	w := v.window.Seconds()
	if math.IsNaN(iat) || iat < nowSec-w || iat > nowSec+w {
		return time.Time{}, false
	}
	sec, frac := math.Modf(iat)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// replayKey is the ReplayCache key of a proof: base64url(SHA-256(jkt ‖ 0
// ‖ htu ‖ 0 ‖ jti)) with htu normalised. A zero byte cannot occur in a
// thumbprint or a normalised URI, so the parts cannot run together.
func replayKey(jkt, htu, jti string) string {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(htu))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return b64.EncodeToString(h.Sum(nil))
}
