package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver/authserver/verifier/dpop"
)

// Credential scopes (the credential_scope claim): which kind of credential
// a token stands for.
const (
	// CredentialScopeAccount: an account credential; manages every app.
	CredentialScopeAccount = "account"
	// CredentialScopeApp: an app's own server-to-server credential.
	CredentialScopeApp = "app"
	// CredentialScopeAppUser: one end user of one app; the only kind a
	// browser may hold, and the only kind that ever gets CORS headers.
	CredentialScopeAppUser = "appUser"
)

// Errors of Verify, each wrapped with detail. Test them with errors.Is.
// Every one but ErrKeySetUnavailable means the token is invalid (RFC 6750
// §3.1 invalid_token).
var (
	// ErrMalformed: not a compact JWS with one signature and JSON claims.
	ErrMalformed = errors.New("verifier: malformed token")
	// ErrAlgorithm: the alg is not on the allow-list ("none" and HMAC
	// never are).
	ErrAlgorithm = errors.New("verifier: signing algorithm not allowed")
	// ErrType: the typ header is not at+jwt (RFC 9068 §4).
	ErrType = errors.New("verifier: token type is not at+jwt")
	// ErrSignature: no key of the kid fits the alg and verifies.
	ErrSignature = errors.New("verifier: invalid signature")
	// ErrIssuer: iss is not the configured issuer.
	ErrIssuer = errors.New("verifier: wrong issuer")
	// ErrAudience: aud does not contain the configured audience.
	ErrAudience = errors.New("verifier: wrong audience")
	// ErrExpired: exp has passed, leeway included.
	ErrExpired = errors.New("verifier: token expired")
	// ErrNotYetValid: nbf or iat is in the future, leeway included.
	ErrNotYetValid = errors.New("verifier: token not yet valid")
	// ErrMissingClaims: exp, iat, sub, client_id or jti is missing.
	ErrMissingClaims = errors.New("verifier: required claim missing")
	// ErrConfirmation: the cnf claim (RFC 7800 §3.1) is not an object
	// whose only member is a jkt of 43 base64url characters (RFC 9449
	// §6.1): the token is bound to a key in a way this package cannot
	// check, so it is refused rather than taken as a bearer token.
	ErrConfirmation = errors.New("verifier: unsupported confirmation (cnf)")
	// ErrBoundToken: the token is DPoP-bound (cnf.jkt) and was presented
	// without the DPoP scheme, as a bearer token (RFC 9449 §7.2), or given
	// to Verify, which has no proof to check.
	ErrBoundToken = errors.New("verifier: DPoP-bound token used without its proof")
)

// DefaultAlgorithms are the algorithms accepted when Config.Algorithms is
// empty: RS256 (which RFC 9068 §2.1 requires), PS256, ES256 and EdDSA.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// allowedAlgorithms are the asymmetric algorithms Config.Algorithms may
// name. HMAC algorithms and "none" are never accepted: a resource server
// holds only public keys, and an HMAC computed with a public key as its
// secret proves nothing.
var allowedAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// maxTokenBytes bounds what is parsed.
const maxTokenBytes = 16 << 10

// Config configures a Verifier.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414
	// §2); the token's iss must equal it. Required.
	Issuer string
	// Audience identifies this resource server; the token's aud must
	// contain it (RFC 9068 §4). Required.
	Audience string
	// JWKSURL is where the issuer publishes its keys; default Issuer +
	// "/.well-known/jwks.json". Ignored when Keys is set.
	JWKSURL string
	// Keys, if set, replaces the remote JWKS (a static set, tests).
	Keys KeySource
	// KeySet tunes the remote JWKS cache (HTTP client, TTL bounds, refetch
	// rate limit).
	KeySet KeySetOptions
	// Algorithms is the allow-list of "alg" values; default
	// DefaultAlgorithms. Only asymmetric algorithms may be named.
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat; default 30s,
	// at most 5m.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// DPoP tunes the check of DPoP-bound tokens by VerifyRequest,
	// VerifyPresentation and Middleware (RFC 9449 §7). It is always on:
	// the zero value checks them with the defaults.
	DPoP DPoPConfig
}

// Confirmation is a token's cnf claim (RFC 7800 §3.1): the key the token
// is bound to. The zero value is an unbound (bearer) token.
type Confirmation struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the client's DPoP key,
	// base64url (RFC 9449 §6.1); a proof must be signed by that key.
	JKT string
}

// Claims are the claims of a verified access token (RFC 9068 §2.2) and the
// authorization server's own: CredentialScope and SecretID.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	// NotBefore is zero when the token has no nbf.
	NotBefore time.Time
	ID        string
	// ClientID is the client (App ID) the token was issued to.
	ClientID string
	// Scope is the space-separated "scope" claim, split.
	Scope []string
	// CredentialScope is "app", "appUser" or "account" (see the
	// CredentialScope constants); "" when the issuer does not say.
	CredentialScope string
	// SecretID names the client secret involved in issuing the token, if
	// any.
	SecretID string
	// Confirmation is the key the token is bound to (cnf); its JKT is
	// empty for a bearer token. Only VerifyRequest, VerifyPresentation and
	// Middleware return claims with a JKT, after checking the proof.
	Confirmation Confirmation
}

// HasScope reports whether the token was granted scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scope, scope) }

// Verifier validates access tokens of one issuer for one audience. It is
// safe for concurrent use; build one per resource server and share it.
type Verifier struct {
	issuer   string
	audience string
	keys     KeySource
	algs     []jose.SignatureAlgorithm
	leeway   time.Duration
	now      func() time.Time
	dpop     dpopCheck
}

// New returns a Verifier. It fails when Issuer or Audience is empty, an
// algorithm is not an allowed asymmetric one, or Config.DPoP is invalid
// (see DPoPConfig). It does not fetch the JWKS: the first Verify does.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("verifier: Issuer and Audience are required")
	}
	if cfg.Leeway < 0 || cfg.Leeway > 5*time.Minute {
		return nil, errors.New("verifier: Leeway must be between 0 and 5m")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	names := cfg.Algorithms
	if len(names) == 0 {
		names = DefaultAlgorithms
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(names))
	for _, a := range names {
		if !slices.Contains(allowedAlgorithms, a) {
			return nil, fmt.Errorf("verifier: algorithm %q is not allowed (asymmetric algorithms only, never none or HMAC)", a)
		}
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	keys := cfg.Keys
	if keys == nil {
		u := cfg.JWKSURL
		if u == "" {
			u = strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/jwks.json"
		}
		if cfg.KeySet.Now == nil {
			cfg.KeySet.Now = cfg.Now
		}
		keys = NewRemoteKeySet(u, cfg.KeySet)
	}
	d, err := newDPoPCheck(cfg.DPoP, cfg.Now)
	if err != nil {
		return nil, err
	}
	return &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, keys: keys, algs: algs, leeway: cfg.Leeway, now: cfg.Now, dpop: d}, nil
}

// wireClaims is the JSON shape of the claims.
type wireClaims struct {
	jwt.Claims
	ClientID        string `json:"client_id"`
	Scope           string `json:"scope"`
	CredentialScope string `json:"credential_scope"`
	SecretID        string `json:"secret_id"`
	// Confirmation is read by check, so that a cnf of the wrong shape is
	// ErrConfirmation rather than a failed decode.
	Confirmation json.RawMessage `json:"cnf"`
}

// Verify checks token (a compact JWS) and returns its claims. In order: the
// alg is on the allow-list, typ is "at+jwt" (RFC 9068 §4), the signature
// verifies with a key of the issuer's JWKS named by kid (an unknown kid
// causes one rate-limited refetch), iss equals Issuer, aud contains
// Audience, exp is in the future and nbf and iat are not (each with
// Leeway), and sub, client_id, jti, iat and exp are present. Errors wrap
// the Err* values; ErrKeySetUnavailable means the keys could not be had.
//
// Verify checks a token alone, as a bearer token: a DPoP-bound one (cnf
// with jkt, RFC 9449 §6.1) is refused with ErrBoundToken, since it is
// valid only with a proof signed by its key. A resource server that may
// receive bound tokens uses VerifyRequest, VerifyPresentation or
// Middleware, which check the proof.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token, nil)
	if err != nil {
		return nil, err
	}
	if c.Confirmation.JKT != "" {
		return nil, fmt.Errorf("%w: verify it with its DPoP proof (VerifyRequest)", ErrBoundToken)
	}
	return c, nil
}

// verify is Verify, except that a token whose credential_scope is one of
// anyAudience passes whatever its aud (MiddlewareOptions.AnyAudience).
func (v *Verifier) verify(ctx context.Context, token string, anyAudience []string) (*Claims, error) {
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxTokenBytes)
	}
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		var unexpected *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &unexpected) {
			return nil, fmt.Errorf("%w: %s", ErrAlgorithm, unexpected.Got)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrMalformed)
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return nil, fmt.Errorf("%w: typ %q", ErrType, typ)
	}
	keys, err := v.keys.Keys(ctx, hdr.KeyID)
	if err != nil {
		return nil, err
	}
	var wc wireClaims
	verified := false
	for _, k := range keys {
		if !KeyFits(k, hdr.Algorithm) {
			continue
		}
		if err := tok.Claims(k.Key, &wc); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fmt.Errorf("%w: no key of kid %q verifies the %s signature", ErrSignature, hdr.KeyID, hdr.Algorithm)
	}
	if highS(token, hdr.Algorithm) {
		return nil, fmt.Errorf("%w: high-S %s signature (the issuer signs low-S only)", ErrSignature, hdr.Algorithm)
	}
	return v.check(&wc, anyAudience)
}

// isAccessTokenType: "at+jwt" or "application/at+jwt", case-insensitive
// (RFC 7515 §4.1.9, RFC 9068 §2.1).
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

func (v *Verifier) check(wc *wireClaims, anyAudience []string) (*Claims, error) {
	now := v.now()
	if wc.Issuer != v.issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, wc.Issuer)
	}
	if !slices.Contains(wc.Audience, v.audience) && !slices.Contains(anyAudience, wc.CredentialScope) {
		return nil, fmt.Errorf("%w: %q does not include %q", ErrAudience, []string(wc.Audience), v.audience)
	}
	if wc.Expiry == nil || wc.IssuedAt == nil || wc.Subject == "" || wc.ClientID == "" || wc.ID == "" {
		return nil, fmt.Errorf("%w: exp, iat, sub, client_id and jti are required (RFC 9068 §2.2)", ErrMissingClaims)
	}
	cnf, err := parseConfirmation(wc.Confirmation)
	if err != nil {
		return nil, err
	}
	if !now.Before(wc.Expiry.Time().Add(v.leeway)) {
		return nil, fmt.Errorf("%w: at %s", ErrExpired, wc.Expiry.Time().UTC().Format(time.RFC3339))
	}
	if wc.NotBefore != nil && wc.NotBefore.Time().After(now.Add(v.leeway)) {
		return nil, fmt.Errorf("%w: nbf %s", ErrNotYetValid, wc.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	if wc.IssuedAt.Time().After(now.Add(v.leeway)) {
		return nil, fmt.Errorf("%w: iat %s is in the future", ErrNotYetValid, wc.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	c := &Claims{
		Issuer: wc.Issuer, Subject: wc.Subject, Audience: []string(wc.Audience),
		ExpiresAt: wc.Expiry.Time(), IssuedAt: wc.IssuedAt.Time(), ID: wc.ID,
		ClientID: wc.ClientID, Scope: strings.Fields(wc.Scope),
		CredentialScope: wc.CredentialScope, SecretID: wc.SecretID, Confirmation: cnf,
	}
	if wc.NotBefore != nil {
		c.NotBefore = wc.NotBefore.Time()
	}
	return c, nil
}

// parseConfirmation reads a cnf claim (RFC 7800 §3.1): absent or null is
// a bearer token; otherwise it must be an object with exactly one member,
// jkt, a SHA-256 thumbprint in base64url (43 characters, RFC 9449 §6.1).
// Any other confirmation method (jwk, x5t#S256, ...) binds the token to a
// key this package cannot check, and is refused rather than ignored,
// which would make the token a bearer token again.
func parseConfirmation(raw json.RawMessage) (Confirmation, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return Confirmation{}, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return Confirmation{}, fmt.Errorf("%w: not a JSON object", ErrConfirmation)
	}
	var jkt string
	if err := json.Unmarshal(members["jkt"], &jkt); err != nil || len(members) != 1 || !isThumbprint(jkt) {
		return Confirmation{}, fmt.Errorf("%w: only a jkt of 43 base64url characters is supported", ErrConfirmation)
	}
	return Confirmation{JKT: jkt}, nil
}

// isThumbprint reports whether s is 43 base64url characters: the length of
// a SHA-256 digest, unpadded.
func isThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Description returns the RFC 6750 §3 error_description of an error of
// Verify, VerifyRequest or VerifyPresentation: which check failed, in
// printable ASCII fit for a client and for a WWW-Authenticate
// quoted-string, never the token, the proof nor a claim of either.
func Description(err error) string {
	var proofErr *dpop.Error
	switch {
	case errors.Is(err, ErrNoToken):
		return "An access token is required: Authorization: Bearer <token>, or DPoP <token> with a DPoP proof."
	case errors.Is(err, ErrAuthorization):
		return "The request is malformed: more than one Authorization header."
	case errors.Is(err, ErrRequestURI):
		return "The request's URL cannot be determined (Host), so no DPoP proof can match it."
	case errors.Is(err, ErrBoundToken):
		return "The access token is DPoP-bound (cnf.jkt): send it as Authorization: DPoP <token> with a DPoP proof signed by its key (RFC 9449, section 7.2)."
	case errors.Is(err, ErrUnboundToken):
		return "The access token is not DPoP-bound: send it as Authorization: Bearer <token>."
	case errors.Is(err, ErrKeyBinding):
		return "The DPoP proof's key is not the key the access token is bound to (cnf.jkt)."
	case errors.Is(err, ErrConfirmation):
		return "The access token is bound to a key (cnf) in a way this resource cannot check; only cnf.jkt (DPoP) is supported."
	case errors.As(err, &proofErr):
		return "The DPoP proof is invalid: " + proofErr.Description + "."
	case errors.Is(err, ErrProofUnavailable):
		return "The DPoP proof cannot be checked right now."
	case errors.Is(err, ErrExpired):
		return "The access token has expired (exp)."
	case errors.Is(err, ErrNotYetValid):
		return "The access token is not valid yet (nbf or iat is in the future)."
	case errors.Is(err, ErrAudience):
		return "The access token's audience (aud) does not include this resource."
	case errors.Is(err, ErrIssuer):
		return "The access token was issued by another issuer (iss)."
	case errors.Is(err, ErrUnknownKey):
		return "The access token names an unknown signing key (kid): none of the issuer's published keys."
	case errors.Is(err, ErrSignature):
		return "The access token's signature does not verify with the issuer's key."
	case errors.Is(err, ErrAlgorithm):
		return "The access token's signing algorithm (alg) is not accepted."
	case errors.Is(err, ErrType):
		return "The access token's typ is not at+jwt (RFC 9068, section 4)."
	case errors.Is(err, ErrMissingClaims):
		return "The access token lacks a required claim: exp, iat, sub, client_id and jti are required (RFC 9068, section 2.2)."
	case errors.Is(err, ErrMalformed):
		return "The access token is malformed: not a compact JWS with one signature and JSON claims."
	case errors.Is(err, ErrKeySetUnavailable):
		return "The token cannot be verified right now."
	default:
		return "The access token is invalid."
	}
}

// BearerToken returns the token of an "Authorization: Bearer" header (RFC
// 6750 §2.1; the scheme is case-insensitive), or "". It knows nothing of
// the DPoP scheme: VerifyRequest reads both.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}
