package handlers

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/limits"
	"github.com/authserver/authserver/authserver/tokens"
)

// Introspector answers token introspection (RFC 7662).
type Introspector interface {
	Introspect(ctx context.Context, token string) (tokens.Introspection, error)
}

// Revoker revokes access tokens (RFC 7009).
type Revoker interface {
	Revoke(ctx context.Context, client fosite.Client, token string) error
}

// introspectHandler is the introspection endpoint (RFC 7662 §2).
//
// It does not go through fosite's NewIntrospectionRequest, though fosite
// has one, because that function decides things we must decide otherwise:
// it authenticates the caller with HTTP Basic only, through its own
// store look-up and secret hasher rather than our clientauth.Authenticator (no
// client_secret_post, no rate limit, no single answer for every failure);
// it also accepts any valid access token as the caller's credential; it
// turns every error of a TokenIntrospector, an unreachable database
// included, into {"active": false}, where a resource server must instead
// learn that no answer could be given; and its response writer drops
// iss, jti, token_type and our credential_scope. What is left of it, a
// form parse and a JSON write, is these few lines; the decisions live in
// tokens.Introspector.
type introspectHandler struct {
	authenticate   fosite.ClientAuthenticationStrategy
	trustedProxies []netip.Prefix
	introspector   Introspector
}

func (h *introspectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Any authenticated client may ask: the claims are in the JWT
	// anyway, and what introspection adds (whether it is still active)
	// is what a resource server holding the token needs.
	_, token, ok := authenticatedTokenRequest(w, r, h.authenticate, h.trustedProxies)
	if !ok {
		return
	}
	res, err := h.introspector.Introspect(r.Context(), token)
	if err != nil {
		writeFositeError(w, r, err)
		return
	}
	// What writeJSON writes, without encoding/json's reflection.
	writeJSONBody(w, http.StatusOK, res.AppendJSON(make([]byte, 0, 512)))
}

// revokeHandler is the revocation endpoint (RFC 7009 §2). A token that is
// unknown, invalid, expired or revoked already gets 200 like a revoked one
// (§2.2); token_type_hint is only a hint and every token is looked at as
// an access token, the only kind this server issues.
type revokeHandler struct {
	authenticate   fosite.ClientAuthenticationStrategy
	trustedProxies []netip.Prefix
	revoker        Revoker
}

func (h *revokeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	client, token, ok := authenticatedTokenRequest(w, r, h.authenticate, h.trustedProxies)
	if !ok {
		return
	}
	if err := h.revoker.Revoke(r.Context(), client, token); err != nil {
		writeFositeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// tokenParams are the parameters of introspection and revocation requests
// that must not repeat (RFC 6749 §3.2 by analogy; RFC 7662 §2.1, RFC 7009
// §2.1 define each once).
var tokenParams = []string{"token", "token_type_hint"}

// authenticatedTokenRequest reads an introspection or revocation request:
// a form-encoded POST body (RFC 7662 §2.1, RFC 7009 §2.1) with one token
// parameter, from an authenticated client (whose failures count against
// r's source, clientSource with trusted). On failure it writes the RFC
// 6749 §5.2 error and reports false. Query parameters are ignored: a
// credential or token in a URL ends up in logs.
func authenticatedTokenRequest(w http.ResponseWriter, r *http.Request, authenticate fosite.ClientAuthenticationStrategy, trusted []netip.Prefix) (fosite.Client, string, bool) {
	if !readForm(w, r) {
		return nil, "", false
	}
	form := r.PostForm
	for _, p := range tokenParams {
		if len(form[p]) > 1 {
			writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", "The '"+p+"' parameter must not be included more than once.")
			return nil, "", false
		}
	}
	client, err := authenticate(withSource(r, trusted), r, form)
	if err != nil {
		writeFositeError(w, r, err)
		return nil, "", false
	}
	token := form.Get("token")
	if token == "" {
		writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", "The 'token' parameter is missing.")
		return nil, "", false
	}
	return client, token, true
}

// writeFositeError writes a fosite error in the RFC 6749 §5.2 shape, with
// the headers its status calls for: WWW-Authenticate with a 401
// invalid_client (§5.2), Retry-After with a 429 or 503.
func writeFositeError(w http.ResponseWriter, r *http.Request, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	setErrorHeaders(w, rfc.CodeField, err)
	writeOAuthError(w, r, rfc.CodeField, rfc.ErrorField, rfc.GetDescription())
}

// setErrorHeaders sets the headers an error of status needs.
func setErrorHeaders(w http.ResponseWriter, status int, err error) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="authserver", charset="UTF-8"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		secs, ok := limits.RetryAfter(err)
		if !ok {
			secs = 5
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
}
