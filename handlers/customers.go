package handlers

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/authserver/users"
	"github.com/authserver/authserver/verifier"
	"github.com/authserver/authserver/verifier/dpop"
)

// OriginPolicy decides which browser origins may read responses
// (docs/credentials.md, "Browsers").
type OriginPolicy interface {
	// AppAllows reports whether the app lets origin read its users'
	// responses.
	AppAllows(ctx context.Context, appID, origin string) bool
	// AnyAppAllows reports whether some app does: all a preflight, which
	// carries no credential, can be asked.
	AnyAppAllows(ctx context.Context, origin string) bool
}

// ProfileSource is the data of the reference resource.
type ProfileSource interface {
	Profile(ctx context.Context, appID, subject string) (users.Profile, bool, error)
}

// TokenCookie describes the cookie of /customer_authenticate's cookie mode.
type TokenCookie struct {
	Name     string
	Secure   bool
	SameSite http.SameSite
}

// Users is what the end-user routes serve: /customer_authenticate and the
// reference resource /getprofile.
type Users struct {
	// Provider runs /customer_authenticate: fosite with the customer grants.
	Provider TokenProvider
	Origins  OriginPolicy
	Cookie   TokenCookie
	// Verifier checks the bearer tokens of /getprofile against the public
	// JWKS URL, as an outside resource server would.
	Verifier *verifier.Verifier
	Profiles ProfileSource
}

// mountUsers adds the end-user routes.
func mountUsers(r *mux.Router, u *Users, instruments Instruments, signer SigningKeySource, trustedProxies []netip.Prefix) {
	ca := &customerAuthHandler{
		token: tokenHandler{provider: u.Provider, newSession: func() fosite.Session { return tokens.NewSession() },
			instruments: instruments, signer: signer, trustedProxies: trustedProxies},
		origins: u.Origins,
		cookie:  u.Cookie,
	}
	r.Handle("/customer_authenticate", ca).Methods(http.MethodPost, http.MethodOptions)
	profile := u.Verifier.Middleware(verifier.MiddlewareOptions{
		Realm:            "authserver",
		Cookie:           u.Cookie.Name,
		CredentialScopes: []string{verifier.CredentialScopeApp, verifier.CredentialScopeAppUser},
		// A resource of this server, like OpenID Connect's userinfo
		// endpoint: an appUser token carries its app's audience (the APIs
		// the app's users call), and reads its own profile here whatever
		// that is. App tokens reach every user of their app, so they must
		// be meant for this server: the verifier's audience,
		// tokens.default_audience.
		AnyAudience: []string{verifier.CredentialScopeAppUser},
		CORS: &verifier.CORS{
			AllowOrigin:      u.Origins.AppAllows,
			AllowPreflight:   u.Origins.AnyAppAllows,
			AllowMethods:     []string{http.MethodPost},
			AllowHeaders:     []string{"Authorization", "Content-Type", "X-API-Key"},
			AllowCredentials: true,
		},
	})(&profileHandler{profiles: u.Profiles})
	r.Handle("/getprofile", profile).Methods(http.MethodPost, http.MethodOptions)
}

// customerAuthHandler is POST /customer_authenticate (docs/credentials.md,
// "Test users" and "Secure mode"): fosite
// with the customer grants, so that it answers exactly like the token
// endpoint. A request may leave grant_type out; it is inferred from the
// parameters (tokens.InferCustomerGrant). With response_mode=cookie the
// token comes as an HttpOnly cookie instead of in the body; a DPoP-bound
// one (RFC 9449) with "ath", its hash, which every proof sent with the
// cookie must carry. Browsers get CORS headers, credentials included,
// only from origins the named app allows, and may send a DPoP proof and
// read DPoP-Nonce.
type customerAuthHandler struct {
	token   tokenHandler
	origins OriginPolicy
	cookie  TokenCookie
}

// Response modes of /customer_authenticate.
const (
	responseModeJSON   = "json"
	responseModeCookie = "cookie"
)

func (h *customerAuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := withSource(r, h.token.trustedProxies)
	if r.Method == http.MethodOptions {
		verifier.CORS{
			AllowPreflight: h.origins.AnyAppAllows,
			AllowMethods:   []string{http.MethodPost},
			// DPoP: a browser's proof (RFC 9449 §4.1), which is not a
			// CORS-safelisted request header.
			AllowHeaders:     []string{"Content-Type", "DPoP"},
			AllowCredentials: true,
		}.ServePreflight(w, r)
		return
	}
	if r.Header.Get("Origin") != "" {
		w.Header().Add("Vary", "Origin")
	}
	// Read the body first, strictly, so that grant_type can be inferred
	// and response_mode read; fosite reuses the parsed form.
	if !readForm(w, r) {
		return
	}
	if len(r.PostForm) > 0 && len(r.PostForm["grant_type"]) == 0 {
		if g := tokens.InferCustomerGrant(r.PostForm.Has); g != "" {
			r.PostForm.Set("grant_type", g)
		}
	}
	mode := r.PostForm.Get("response_mode")
	if mode != "" && mode != responseModeJSON && mode != responseModeCookie {
		h.cors(w, r, nil)
		h.token.writeError(w, r, nil, fosite.ErrInvalidRequest.WithHint("The response_mode parameter must be 'json' or 'cookie'."))
		return
	}
	req, err := h.token.provider.NewAccessRequest(ctx, r, h.token.newSession())
	if err != nil {
		h.cors(w, r, req)
		h.token.writeError(w, r, req, err)
		return
	}
	resp, err := h.token.provider.NewAccessResponse(ctx, req)
	if err != nil {
		h.cors(w, r, req)
		h.token.writeError(w, r, req, err)
		return
	}
	h.cors(w, r, req)
	h.token.countIssued(req)
	if mode != responseModeCookie {
		h.token.writeResponse(ctx, w, req, resp)
		return
	}
	body := resp.ToMap()
	delete(body, "access_token")
	if resp.GetTokenType() == tokens.TokenTypeDPoP {
		// A bound token in an HttpOnly cookie: the page cannot read it,
		// yet each proof it sends with it must carry its hash (RFC 9449
		// §4.2, ath). The hash is given instead; it tells nothing of the
		// token, and the token is useless without the page's key.
		body["ath"] = dpop.AccessTokenHash(resp.GetAccessToken())
	}
	tokens.SetDPoPNonce(w.Header(), req, nil)
	expiresIn := req.GetSession().GetExpiresAt(fosite.AccessToken).Sub(req.GetSession().(*tokens.Session).Claims.IssuedAt)
	http.SetCookie(w, &http.Cookie{
		Name: h.cookie.Name, Value: resp.GetAccessToken(), Path: "/",
		MaxAge: int(expiresIn / time.Second), HttpOnly: true, Secure: h.cookie.Secure, SameSite: h.cookie.SameSite,
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, body)
}

// cors adds the CORS headers of an actual request when its Origin is one
// the request's app allows: the app the grant resolved, or the client_id
// the request names. Credentials are allowed with them (cookie mode).
func (h *customerAuthHandler) cors(w http.ResponseWriter, r *http.Request, req fosite.AccessRequester) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	appID := r.PostForm.Get("client_id")
	if req != nil && req.GetClient() != nil && req.GetClient().GetID() != "" {
		appID = req.GetClient().GetID()
	}
	if h.origins.AppAllows(r.Context(), appID, origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		// The page must read a server nonce to send it in its next proof
		// (RFC 9449 §8).
		w.Header().Set("Access-Control-Expose-Headers", "DPoP-Nonce")
	}
}

// profileHandler is POST /getprofile, the reference protected resource
// (docs/architecture.md, "End-user tokens"), behind verifier.Middleware: it needs the bearer token and
// the app's API key (X-API-Key: the App ID), which must be the token's
// app. An appUser token, whatever its aud, reads only its own profile; an
// app token, for tokens.default_audience only, reads any user of its own
// app by {"customer": "<opaque identifier>"}; the look-up is scoped to the
// token's app, so no token reaches another app's users; account tokens are
// refused by the middleware.
type profileHandler struct {
	profiles ProfileSource
}

type profileRequest struct {
	// Customer is the opaque customer identifier; default the token's own.
	Customer string `json:"customer"`
}

func (h *profileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	claims, ok := verifier.ClaimsFromContext(r.Context())
	if !ok {
		resourceError(w, r, http.StatusUnauthorized, "invalid_token", "A verified token is required.")
		return
	}
	apiKey := r.Header.Get("X-API-Key")
	if apiKey == "" {
		resourceError(w, r, http.StatusBadRequest, "invalid_request", "The X-API-Key header (the App ID) is required.")
		return
	}
	if apiKey != claims.ClientID {
		resourceError(w, r, http.StatusForbidden, "invalid_api_key", "App mismatch: the token was issued to another app than the one X-API-Key names.")
		return
	}
	var req profileRequest
	if !decodeResourceJSON(w, r, &req) {
		return
	}
	target := req.Customer
	switch claims.CredentialScope {
	case verifier.CredentialScopeAppUser:
		if target == "" {
			target = claims.Subject
		}
		if target != claims.Subject {
			resourceError(w, r, http.StatusForbidden, "insufficient_scope", "A user token reads only its own profile.")
			return
		}
	case verifier.CredentialScopeApp:
		if target == "" {
			resourceError(w, r, http.StatusBadRequest, "invalid_request", "An app token must name the customer.")
			return
		}
	default:
		resourceError(w, r, http.StatusForbidden, "insufficient_scope", "Tokens of this credential scope may not read profiles.")
		return
	}
	profile, found, err := h.profiles.Profile(r.Context(), claims.ClientID, target)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		resourceError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "The profile cannot be read right now.")
		return
	}
	if !found && claims.CredentialScope == verifier.CredentialScopeApp {
		resourceError(w, r, http.StatusNotFound, "not_found", "The app has no such customer.")
		return
	}
	writeJSON(w, http.StatusOK, profile)
}

// decodeResourceJSON reads an optional JSON object into v (an empty body
// leaves v as is), answering the error in the resource's shape on failure.
func decodeResourceJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		resourceError(w, r, http.StatusBadRequest, "invalid_request", "The body could not be read.")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if err := unmarshalJSON(body, v); err != nil {
		resourceError(w, r, http.StatusBadRequest, "invalid_request", "The body must be a JSON object such as {\"customer\": \"...\"}.")
		return false
	}
	return true
}

// resourceError writes {"error","error_description"} (RFC 6750 §3).
func resourceError(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	setErrorCode(r, code)
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}
