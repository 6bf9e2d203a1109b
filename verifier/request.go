package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authserver/authserver/verifier/dpop"
)

// Errors of VerifyRequest and VerifyPresentation beyond those of Verify,
// each wrapped in a *RequestError. Test them with errors.Is.
var (
	// ErrNoToken: the request carries no access token, or one of another
	// authentication scheme than Bearer and DPoP (RFC 6750 §3.1: no error
	// code).
	ErrNoToken = errors.New("verifier: no access token")
	// ErrAuthorization: the request has more than one Authorization
	// header field (a singleton field, RFC 9110 §11.6.2): invalid_request.
	ErrAuthorization = errors.New("verifier: malformed Authorization")
	// ErrRequestURI: the URL the proof's htu must match cannot be formed
	// (no DPoPConfig.BaseURL and an unusable Host, or a Presentation
	// without an absolute http(s) URI or a method): invalid_request.
	ErrRequestURI = errors.New("verifier: request URI unknown")
	// ErrUnboundToken: a token that is not DPoP-bound was presented with
	// the DPoP scheme (RFC 9449 §7.1 binds the proof's key to the token's
	// cnf.jkt, and such a token has none).
	ErrUnboundToken = errors.New("verifier: token is not DPoP-bound")
	// ErrKeyBinding: the proof is valid but signed by another key than the
	// one the token is bound to (cnf.jkt, RFC 9449 §7.1): invalid_token.
	ErrKeyBinding = errors.New("verifier: DPoP proof key does not match cnf.jkt")
	// ErrProof: the DPoP proof was refused (RFC 9449 §4.3). The error
	// also wraps the *dpop.Error, whose Code is the challenge's error
	// (invalid_dpop_proof or use_dpop_nonce) and whose sentinel
	// (dpop.ErrReplay, ...) names the failed check.
	ErrProof = errors.New("verifier: invalid DPoP proof")
	// ErrProofUnavailable: the replay cache could not answer, so the proof
	// could not be checked: 503, like ErrKeySetUnavailable.
	ErrProofUnavailable = errors.New("verifier: DPoP proof cannot be checked")
)

// DPoPConfig configures the check of DPoP-bound access tokens (RFC 9449
// §7) by VerifyRequest, VerifyPresentation and Middleware. Zero values
// take the defaults shown.
type DPoPConfig struct {
	// BaseURL is this resource server's public base URL as its clients
	// see it ("https://api.example.com"); the htu a proof must carry is
	// BaseURL followed by the request's path (a proxy that strips a path
	// prefix: put the prefix in BaseURL). Default: formed from the
	// request, "https://" if it came over TLS to this process and
	// "http://" otherwise, then its Host. Behind a reverse proxy that
	// terminates TLS or rewrites Host, that is not the URL the client
	// used and every proof is refused: set BaseURL. Forwarded headers are
	// never trusted for it.
	BaseURL string
	// Algorithms are the alg values a proof may use, the algs of the
	// DPoP challenge (RFC 9449 §7.1); default ES256, EdDSA, Ed25519,
	// RS256 and PS256 (see dpop.Config).
	Algorithms []string
	// Window is how far a proof's iat may be from the clock, either way
	// (RFC 9449 §11.1); default 60s, at most 5m.
	Window time.Duration
	// Replay remembers accepted proofs, so that each is accepted once
	// (§11.1). Default: a dpop.MemoryReplayCache in this process's
	// memory. Several instances behind one URL need a shared cache, or a
	// proof replayed to another instance passes there.
	Replay dpop.ReplayCache
	// Nonces, if set, issues this resource's nonces (RFC 9449 §9): the
	// DPoP-Nonce of a use_dpop_nonce refusal, and of every response
	// Middleware lets through with a DPoP-bound token. Clients keep one
	// nonce per origin: a resource on its own origin has a secret of its
	// own; one on the authorization server's origin shares the token
	// endpoint's source, or every switch between them costs a retry.
	Nonces *dpop.NonceSource
	// RequireNonce, if set, reports whether the proof for a token with
	// these claims must carry a nonce from Nonces (a per-client policy);
	// nil requires none. It needs Nonces.
	RequireNonce func(ctx context.Context, c *Claims) bool
}

// dpopCheck is a Verifier's DPoP configuration, ready to use.
type dpopCheck struct {
	proofs       *dpop.Verifier
	baseURL      string // without a trailing slash; "" from the request
	nonces       *dpop.NonceSource
	requireNonce func(ctx context.Context, c *Claims) bool
	// algs is proofs.Algorithms(), read by every refusal's challenge:
	// kept once rather than copied per request. Never modified.
	algs []string
}

func newDPoPCheck(cfg DPoPConfig, now func() time.Time) (dpopCheck, error) {
	if cfg.RequireNonce != nil && cfg.Nonces == nil {
		return dpopCheck{}, errors.New("verifier: DPoP.RequireNonce needs DPoP.Nonces")
	}
	base := ""
	if cfg.BaseURL != "" {
		// A bare "#" or "?" parses as no fragment or query, yet followed
		// by a path it would hide the path from the htu: refused as such.
		if strings.ContainsAny(cfg.BaseURL, "?#") || !isHTTPURI(cfg.BaseURL) {
			return dpopCheck{}, fmt.Errorf("verifier: DPoP.BaseURL %q is not an absolute http(s) URL without userinfo, query or fragment", cfg.BaseURL)
		}
		base = strings.TrimRight(cfg.BaseURL, "/")
	}
	replay := cfg.Replay
	if replay == nil {
		replay = dpop.NewMemoryReplayCache(0, now)
	}
	proofs, err := dpop.New(dpop.Config{Algorithms: cfg.Algorithms, Window: cfg.Window, Replay: replay, Nonces: cfg.Nonces, Now: now})
	if err != nil {
		return dpopCheck{}, fmt.Errorf("verifier: DPoP: %w", err)
	}
	return dpopCheck{proofs: proofs, baseURL: base, nonces: cfg.Nonces, requireNonce: cfg.RequireNonce, algs: proofs.Algorithms()}, nil
}

// DPoPAlgorithms returns the alg values DPoP proofs may use here: the
// algs of this resource's DPoP challenges (RFC 9449 §7.1), and what its
// metadata would list as dpop_signing_alg_values_supported (RFC 9728
// §2). The slice is a copy.
func (v *Verifier) DPoPAlgorithms() []string { return v.dpop.proofs.Algorithms() }

// Authentication schemes of a Presentation (RFC 9110 §11.1: compared
// case-insensitively).
const (
	SchemeBearer = "Bearer"
	SchemeDPoP   = "DPoP"
)

// Presentation is an access token as a request presented it, and what its
// DPoP proof must match: what VerifyPresentation checks, for a resource
// server that does not serve net/http requests (VerifyRequest builds one
// from an *http.Request).
type Presentation struct {
	// Scheme is the authentication scheme the token came with,
	// SchemeBearer or SchemeDPoP, case-insensitive; a token taken from
	// elsewhere (a cookie) is SchemeBearer. Any other scheme is
	// ErrNoToken.
	Scheme string
	// Token is the access token.
	Token string
	// Proofs are the values of every DPoP header field of the request
	// (r.Header.Values("DPoP")); exactly one is accepted with SchemeDPoP.
	Proofs []string
	// Method is the request's method, which the proof's htm must equal.
	Method string
	// URI is the absolute URI the client sent the request to, as the
	// client sees it (the public base URL and the request's path); the
	// proof's htu must match it, query and fragment aside.
	URI string
}

// VerifyRequest verifies the access token of r and, for a DPoP-bound
// token, its DPoP proof: it reads "Authorization: Bearer <token>" or
// "Authorization: DPoP <token>" (schemes case-insensitive) and the DPoP
// header fields, and checks them as VerifyPresentation does, with htm =
// r.Method and htu = DPoPConfig.BaseURL (or the default formed from r)
// followed by r.URL's path. It does not read cookies.
//
// It returns the token's claims, Confirmation included, or a
// *RequestError, whose Write answers the request (see VerifyPresentation
// for the errors).
func (v *Verifier) VerifyRequest(ctx context.Context, r *http.Request) (*Claims, error) {
	p, rerr := v.presentation(r, "")
	if rerr != nil {
		return nil, rerr
	}
	c, _, rerr := v.present(ctx, p, nil)
	if rerr != nil {
		return nil, rerr
	}
	return c, nil
}

// VerifyPresentation verifies a presented access token as Verify does,
// then applies RFC 9449 §7:
//
//   - a token that is not DPoP-bound passes with SchemeBearer, and is
//     refused with SchemeDPoP (ErrUnboundToken);
//   - a DPoP-bound token (cnf.jkt) is refused with SchemeBearer
//     (ErrBoundToken, §7.2); with SchemeDPoP its proof must pass every
//     check of dpop.Verifier.Verify (§4.3: one proof, typ, alg, jwk,
//     signature, htm = Method, htu = URI, iat within the window, ath =
//     the token's hash, a nonce when DPoPConfig.RequireNonce says so, not
//     replayed: ErrProof wrapping the *dpop.Error) and be signed by the
//     key the token is bound to (ErrKeyBinding).
//
// Every error is a *RequestError that wraps one of: ErrNoToken (401, no
// error code), ErrAuthorization or ErrRequestURI (400 invalid_request),
// an error of Verify or ErrUnboundToken, ErrBoundToken, ErrKeyBinding
// (401 invalid_token), ErrProof (401 invalid_dpop_proof or
// use_dpop_nonce, with the nonce to send), ErrKeySetUnavailable or
// ErrProofUnavailable (503).
func (v *Verifier) VerifyPresentation(ctx context.Context, p Presentation) (*Claims, error) {
	c, _, rerr := v.present(ctx, p, nil)
	if rerr != nil {
		return nil, rerr
	}
	return c, nil
}

// presentation reads r's credentials: the Authorization header, or
// without one the cookie named cookie: SchemeDPoP when the request has a
// DPoP header (a bound token kept in an HttpOnly cookie, which the page
// cannot read, sent with a proof the page made with the ath it was
// given), SchemeBearer otherwise.
func (v *Verifier) presentation(r *http.Request, cookie string) (Presentation, *RequestError) {
	p := Presentation{Proofs: r.Header.Values("DPoP"), Method: r.Method}
	fields := r.Header.Values("Authorization")
	switch {
	case len(fields) > 1:
		return p, v.refusal(ErrAuthorization, "")
	case len(fields) == 1:
		scheme, token, _ := strings.Cut(fields[0], " ")
		if strings.EqualFold(scheme, SchemeBearer) || strings.EqualFold(scheme, SchemeDPoP) {
			p.Scheme, p.Token = scheme, strings.TrimSpace(token)
		}
	case cookie != "":
		if c, err := r.Cookie(cookie); err == nil {
			p.Scheme, p.Token = SchemeBearer, c.Value
			if len(p.Proofs) > 0 {
				p.Scheme = SchemeDPoP
			}
		}
	}
	// Only a proof's htu is checked against the URI: a Bearer request
	// does not pay for forming it.
	if strings.EqualFold(p.Scheme, SchemeDPoP) {
		p.URI = v.requestURI(r)
	}
	return p, nil
}

// requestURI is the URI a proof's htu must match for r: the configured
// base URL, or one formed from r, followed by r's path as it was sent.
func (v *Verifier) requestURI(r *http.Request) string {
	base := v.dpop.baseURL
	if base == "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		base = scheme + r.Host
	}
	return base + r.URL.EscapedPath()
}

// present is VerifyPresentation; anyAudience is MiddlewareOptions'. When
// the token itself verified, its claims come back with the refusal too, so
// that Middleware can decide CORS for a refused proof (a browser must be
// able to read a use_dpop_nonce answer). nonced reports that the proof had
// to carry a nonce (DPoPConfig.RequireNonce).
func (v *Verifier) present(ctx context.Context, p Presentation, anyAudience []string) (c *Claims, nonced bool, rerr *RequestError) {
	var scheme string
	switch {
	case strings.EqualFold(p.Scheme, SchemeDPoP):
		scheme = SchemeDPoP
	case strings.EqualFold(p.Scheme, SchemeBearer):
		scheme = SchemeBearer
	}
	if scheme == "" || p.Token == "" {
		return nil, false, v.refusal(ErrNoToken, "")
	}
	c, err := v.verify(ctx, p.Token, anyAudience)
	if err != nil {
		return nil, false, v.refusal(err, scheme)
	}
	bound := c.Confirmation.JKT != ""
	switch {
	case !bound && scheme == SchemeBearer:
		return c, false, nil
	case bound && scheme == SchemeBearer:
		// The client must be told to use DPoP: a DPoP challenge.
		return c, false, v.refusal(ErrBoundToken, SchemeDPoP)
	case !bound:
		return c, false, v.refusal(ErrUnboundToken, SchemeDPoP)
	}
	if p.Method == "" || !isHTTPURI(p.URI) {
		return c, false, v.refusal(ErrRequestURI, SchemeDPoP)
	}
	require := v.dpop.requireNonce != nil && v.dpop.requireNonce(ctx, c)
	_, err = v.dpop.proofs.Verify(ctx, dpop.Request{
		Proofs: p.Proofs, Method: p.Method, URI: p.URI, AccessToken: p.Token, RequireNonce: require, JKT: c.Confirmation.JKT,
	})
	var proofErr *dpop.Error
	switch {
	case errors.Is(err, dpop.ErrKeyMismatch):
		return c, require, v.refusal(ErrKeyBinding, SchemeDPoP)
	case errors.As(err, &proofErr):
		return c, require, v.refusal(fmt.Errorf("%w: %w", ErrProof, proofErr), SchemeDPoP)
	case err != nil:
		// The request was checked above, so this is the replay cache.
		return c, require, v.refusal(fmt.Errorf("%w: %w", ErrProofUnavailable, err), SchemeDPoP)
	}
	return c, require, nil
}

// isHTTPURI reports whether raw is an absolute http(s) URI with a host and
// a valid port, as dpop.Verifier.Verify requires of Request.URI.
func isHTTPURI(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil || u.Hostname() == "" {
		return false
	}
	if port := u.Port(); port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
	}
	return true
}

// refusal makes the *RequestError of err for a request that used scheme
// ("" when it presented no token).
func (v *Verifier) refusal(err error, scheme string) *RequestError {
	e := &RequestError{Scheme: scheme, Description: Description(err), algs: v.dpop.algs, err: err}
	var proofErr *dpop.Error
	switch {
	case errors.Is(err, ErrNoToken):
		e.Status, e.Scheme = http.StatusUnauthorized, ""
	case errors.Is(err, ErrAuthorization) || errors.Is(err, ErrRequestURI):
		e.Status, e.Code = http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrKeySetUnavailable) || errors.Is(err, ErrProofUnavailable):
		e.Status, e.Code = http.StatusServiceUnavailable, "temporarily_unavailable"
	case errors.As(err, &proofErr):
		e.Status, e.Code, e.Nonce = http.StatusUnauthorized, proofErr.Code, proofErr.Nonce
	default:
		e.Status, e.Code = http.StatusUnauthorized, "invalid_token"
	}
	return e
}

// RequestError is why VerifyRequest, VerifyPresentation or Middleware
// refused a request, with what to answer: Write writes it.
type RequestError struct {
	// Status is the HTTP status: 400, 401, 403 or 503.
	Status int
	// Code is the error code: invalid_request, invalid_token,
	// insufficient_scope (RFC 6750 §3.1), invalid_dpop_proof,
	// use_dpop_nonce (RFC 9449 §7.1, §9) or temporarily_unavailable; ""
	// when the request presented no token (RFC 6750 §3.1).
	Code string
	// Description says which check failed (Description), in printable
	// ASCII, never the token or the proof.
	Description string
	// Scheme is the scheme of the challenge, SchemeBearer or SchemeDPoP;
	// "" when the request presented no token, which is challenged with
	// both.
	Scheme string
	// Nonce, with use_dpop_nonce, is the value of the DPoP-Nonce response
	// header (RFC 9449 §9).
	Nonce string
	algs  []string
	err   error
}

// Error returns the code and the description.
func (e *RequestError) Error() string {
	if e.Code == "" {
		return "verifier: " + e.Description
	}
	return "verifier: " + e.Code + ": " + e.Description
}

// Unwrap returns the error it stands for (ErrNoToken, ErrProof, an error
// of Verify, ...).
func (e *RequestError) Unwrap() error { return e.err }

// Challenges returns the WWW-Authenticate values of the answer, with
// realm if not empty: for a request without a token one Bearer challenge
// and one DPoP challenge with algs (RFC 6750 §3, RFC 9449 §7.1);
// otherwise one of Scheme with error and error_description (and algs for
// DPoP); none for a 503.
func (e *RequestError) Challenges(realm string) []string {
	if e.Status == http.StatusServiceUnavailable {
		return nil
	}
	if e.Scheme == "" && e.Code == "" {
		return []string{challenge(SchemeBearer, realm, "", "", nil), challenge(SchemeDPoP, realm, "", "", e.algs)}
	}
	scheme := e.Scheme
	if scheme == "" {
		scheme = SchemeBearer
	}
	var algs []string
	if scheme == SchemeDPoP {
		algs = e.algs
	}
	return []string{challenge(scheme, realm, e.Code, e.Description, algs)}
}

// Write answers the request: the challenges (Challenges), DPoP-Nonce with
// use_dpop_nonce, Retry-After with 503, and the RFC 6750 §3 JSON body
// {"error","error_description"} ("unauthorized" as the error of a
// request without a token, which has no code).
func (e *RequestError) Write(w http.ResponseWriter, realm string) {
	h := w.Header()
	for _, c := range e.Challenges(realm) {
		h.Add("WWW-Authenticate", c)
	}
	if e.Nonce != "" {
		h.Set("DPoP-Nonce", e.Nonce)
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	code := e.Code
	if code == "" {
		code = "unauthorized"
	}
	writeError(w, e.Status, code, e.Description)
}

// challenge renders one WWW-Authenticate challenge: scheme, then realm,
// error, error_description and algs, each only when set.
func challenge(scheme, realm, code, description string, algs []string) string {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(quotable(value))
		b.WriteByte('"')
		sep = ", "
	}
	if realm != "" {
		param("realm", realm)
	}
	if code != "" {
		param("error", code)
		if description != "" {
			param("error_description", description)
		}
	}
	if len(algs) > 0 {
		param("algs", strings.Join(algs, " "))
	}
	return b.String()
}

// quotable keeps the characters RFC 6750 §3 allows in a quoted error or
// error_description: printable ASCII but '"' and '\'.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
