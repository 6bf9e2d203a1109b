package handlers

import (
	"net/http"

	"github.com/ory/fosite"
)

// tokenHandler is the token endpoint (RFC 6749 §3.2): parse, let fosite and
// our grant handlers decide, write. It serves /oauth2/token and its alias
// /access_token.
type tokenHandler struct {
	provider   TokenProvider
	newSession func() fosite.Session
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
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
}

// writeError writes an RFC 6749 §5.2 error. fosite leaves out the
// WWW-Authenticate header that §5.2 requires with a 401 invalid_client; it
// is added here, naming the Basic scheme that clients may use.
func (h *tokenHandler) writeError(w http.ResponseWriter, r *http.Request, req fosite.AccessRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	setErrorCode(r, rfc.ErrorField)
	if rfc.CodeField == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="authserver", charset="UTF-8"`)
	}
	if rfc.CodeField == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	h.provider.WriteAccessError(r.Context(), w, req, err)
}
