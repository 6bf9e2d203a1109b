package handlers

import (
	"mime"
	"net/http"

	"github.com/ory/fosite"
)

// tokenHandler is the token endpoint (RFC 6749 §3.2): parse, let fosite and
// our grant handlers decide, write. It serves /oauth2/token and its alias
// /access_token.
type tokenHandler struct {
	provider    TokenProvider
	newSession  func() fosite.Session
	instruments Instruments
	signer      SigningKeySource
}

// SigningKeySource names the key that signs tokens now.
type SigningKeySource interface {
	ActiveKey() (kid, alg string)
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// RFC 6749 §3.2: the body is application/x-www-form-urlencoded.
	// fosite would also parse multipart/form-data; we do not.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded.")
		return
	}
	req, err := h.provider.NewAccessRequest(ctx, r, h.newSession())
	if err != nil {
		h.writeError(w, r, req, err)
		return
	}
	resp, err := h.provider.NewAccessResponse(ctx, req)
	if err != nil {
		h.writeError(w, r, req, err)
		return
	}
	h.provider.WriteAccessResponse(ctx, w, req, resp)
	h.countIssued(req)
}

// countIssued counts the token issued for req by grant and algorithm.
func (h *tokenHandler) countIssued(req fosite.AccessRequester) {
	if h.instruments == nil || h.signer == nil || len(req.GetGrantTypes()) == 0 {
		return
	}
	_, alg := h.signer.ActiveKey()
	h.instruments.TokenIssued(req.GetGrantTypes()[0], alg)
}

// writeError writes an RFC 6749 §5.2 error. fosite leaves out the
// WWW-Authenticate header that §5.2 requires with a 401 invalid_client; it
// is added here, naming the Basic scheme that clients may use, and so is
// Retry-After with a 429 (rate limit) or a 503.
func (h *tokenHandler) writeError(w http.ResponseWriter, r *http.Request, req fosite.AccessRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	setErrorCode(r, rfc.ErrorField)
	setErrorHeaders(w, rfc.CodeField, err)
	h.provider.WriteAccessError(r.Context(), w, req, err)
}
