package handlers

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/tokens"
)

// tokenHandler is the token endpoint (RFC 6749 §3.2): parse, let fosite and
// our grant handlers decide, write. It serves /oauth2/token and its alias
// /access_token.
type tokenHandler struct {
	provider    TokenProvider
	newSession  func() fosite.Session
	instruments Instruments
	signer      SigningKeySource
	// trustedProxies are the proxies whose X-Forwarded-For is believed
	// (clientSource).
	trustedProxies []netip.Prefix
}

// SigningKeySource names the key that signs tokens now.
type SigningKeySource interface {
	ActiveKey() (kid, alg string)
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := withSource(r, h.trustedProxies)
	// RFC 6749 §3.2: the body is application/x-www-form-urlencoded, read
	// strictly. fosite would also parse multipart/form-data; we do not.
	if !readForm(w, r) {
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
	h.writeResponse(ctx, w, req, resp)
	h.countIssued(req)
}

// writeResponse writes the successful token response of RFC 6749 §5.1:
// 200, Content-Type application/json;charset=UTF-8, Cache-Control
// no-store, Pragma no-cache, and the object {"access_token",
// "expires_in", "scope", "token_type"}, byte for byte what fosite's
// WriteAccessResponse writes (encoding/json of the response's map, keys
// sorted), but appended directly instead of through a map and
// encoding/json's reflection, which cost a noticeable share of a token
// request (test/load/README.md, "Why the hot path is written as it is").
// A response with any other member, or a value encoding/json would
// escape, goes through fosite's writer.
func (h *tokenHandler) writeResponse(ctx context.Context, w http.ResponseWriter, req fosite.AccessRequester, resp fosite.AccessResponder) {
	tokens.SetDPoPNonce(w.Header(), req, nil)
	body, ok := appendAccessResponse(make([]byte, 0, 512), resp)
	if !ok {
		h.provider.WriteAccessResponse(ctx, w, req, resp)
		return
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendAccessResponse appends resp as the JSON object fosite writes, or
// reports false if resp is not a *fosite.AccessResponse whose extra
// members are only expires_in (int64) and scope (string), or if a string
// needs JSON escaping.
func appendAccessResponse(dst []byte, resp fosite.AccessResponder) ([]byte, bool) {
	r, ok := resp.(*fosite.AccessResponse)
	if !ok || !plainJSON(r.AccessToken) || !plainJSON(r.TokenType) {
		return nil, false
	}
	var expiresIn int64
	var scope string
	hasExpiresIn, hasScope := false, false
	for k, v := range r.Extra {
		switch k {
		case "expires_in":
			expiresIn, hasExpiresIn = v.(int64)
			if !hasExpiresIn {
				return nil, false
			}
		case "scope":
			scope, hasScope = v.(string)
			if !hasScope || !plainJSON(scope) {
				return nil, false
			}
		case "access_token", "token_type":
			// ToMap leaves these in Extra; the fields are the truth.
		default:
			return nil, false
		}
	}
	dst = append(dst, `{"access_token":"`...)
	dst = append(dst, r.AccessToken...)
	dst = append(dst, '"')
	if hasExpiresIn {
		dst = append(dst, `,"expires_in":`...)
		dst = strconv.AppendInt(dst, expiresIn, 10)
	}
	if hasScope {
		dst = append(dst, `,"scope":"`...)
		dst = append(dst, scope...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"token_type":"`...)
	dst = append(dst, r.TokenType...)
	return append(dst, `"}`...), true
}

// plainJSON reports whether encoding/json writes s as it is between
// quotes: printable ASCII without '"', the backslash, and the '<', '>' and
// '&' it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
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
// Retry-After with a 429 (rate limit) or a 503, and DPoP-Nonce with a
// use_dpop_nonce (RFC 9449 §8).
func (h *tokenHandler) writeError(w http.ResponseWriter, r *http.Request, req fosite.AccessRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	setErrorCode(r, rfc.ErrorField)
	setErrorHeaders(w, rfc.CodeField, err)
	tokens.SetDPoPNonce(w.Header(), nil, err)
	h.provider.WriteAccessError(r.Context(), w, req, err)
}
