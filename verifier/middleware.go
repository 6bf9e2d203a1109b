package verifier

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS answers cross-origin requests by credential scope
// (docs/credentials.md, "Browsers"): a
// response carries Access-Control-Allow-Origin only when the request's
// token is appUser-scoped and its app allows the origin, and then exposes
// WWW-Authenticate and DPoP-Nonce to the page (a DPoP client must read
// the nonce, RFC 9449 §9). App and account tokens never get CORS headers,
// so using one from a browser fails the browser's same-origin check.
type CORS struct {
	// AllowOrigin reports whether the app with clientID (the token's
	// client_id) lets origin read responses made with its users' tokens.
	// It is consulted for appUser tokens only. Required.
	AllowOrigin func(ctx context.Context, clientID, origin string) bool
	// AllowPreflight reports whether a preflight (OPTIONS) from origin is
	// answered. A preflight carries no token (Fetch §3.2.5), so this can
	// only be "some app allows this origin"; nil answers none.
	AllowPreflight func(ctx context.Context, origin string) bool
	// AllowMethods are the methods a preflight may ask for; default POST
	// and GET.
	AllowMethods []string
	// AllowHeaders are the request headers a preflight may ask for
	// (case-insensitive); default Authorization, Content-Type and DPoP.
	// Middleware always adds DPoP, the header of a DPoP proof.
	AllowHeaders []string
	// AllowCredentials adds Access-Control-Allow-Credentials: true, for
	// tokens carried in a cookie.
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight answer; default
	// 10m.
	MaxAge time.Duration
}

// MiddlewareOptions configure Middleware.
type MiddlewareOptions struct {
	// Realm is the realm of WWW-Authenticate challenges (RFC 6750 §3).
	Realm string
	// Cookie, if set, names a cookie that carries the token when the
	// request has no Authorization header. The cookie's token counts as
	// sent with the DPoP scheme when the request has a DPoP header, and
	// with the Bearer scheme otherwise: a DPoP-bound token in a cookie
	// passes only with a proof of its key whose ath is its hash.
	Cookie string
	// CredentialScopes, if set, are the only credential scopes let
	// through; other tokens get 403 insufficient_scope.
	CredentialScopes []string
	// CORS, if set, answers preflights and adds CORS headers by credential
	// scope; without it no response carries CORS headers.
	CORS *CORS
	// AnyAudience names credential scopes whose tokens are let through
	// whatever their aud; every other check of Verify still applies. It
	// is for a resource of the authorization server itself, which, like
	// OpenID Connect's userinfo endpoint, serves every token its issuer
	// issued. A resource server of its own leaves it empty: a token meant
	// for another audience is not for it (RFC 9068 §4).
	AnyAudience []string
}

type claimsKey struct{}

// ClaimsFromContext returns the verified claims Middleware put in the
// request context.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// Middleware returns an http.Handler middleware that lets a request through
// only with a valid access token, checked as VerifyRequest checks it: a
// bearer token (RFC 6750 §2.1, or the cookie named by opts.Cookie when
// the request has no Authorization header), or a DPoP-bound token with
// the DPoP scheme and a proof of its key (RFC 9449 §7), with the claims
// in the context (ClaimsFromContext). It answers a refusal as
// RequestError.Write does: 401 with WWW-Authenticate challenges when the
// token is missing (a Bearer and a DPoP challenge, no error code, RFC
// 6750 §3.1) or refused (invalid_token, invalid_dpop_proof or
// use_dpop_nonce with DPoP-Nonce), 400 invalid_request for a malformed
// request, 503 when the JWKS or the replay cache cannot answer, and 403
// insufficient_scope for a credential scope not allowed. A refusal says
// which check failed in its error_description, in the body and in the
// challenge (Description), never the token. A response to a request whose
// proof had to carry a nonce (DPoPConfig.RequireNonce) carries the current
// one in DPoP-Nonce.
// With opts.CORS it answers preflights itself.
func (v *Verifier) Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	realm := opts.Realm
	if realm == "" {
		realm = "resource"
	}
	cors := opts.CORS
	if cors != nil {
		c := cors.withDefaults()
		// A DPoP request carries its proof in the DPoP header, which a
		// browser sends only if the preflight allows it.
		if !slices.ContainsFunc(c.AllowHeaders, func(h string) bool { return strings.EqualFold(h, "DPoP") }) {
			c.AllowHeaders = append(slices.Clip(c.AllowHeaders), "DPoP")
		}
		cors = &c
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin != "" {
				w.Header().Add("Vary", "Origin")
			}
			if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
				if cors == nil {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				cors.preflight(w, r, origin)
				return
			}
			p, rerr := v.presentation(r, opts.Cookie)
			var claims *Claims
			var nonced bool
			if rerr == nil {
				claims, nonced, rerr = v.present(r.Context(), p, opts.AnyAudience)
			}
			// CORS is decided as soon as the token verified, so that a
			// browser can read a refused proof's answer (its DPoP-Nonce).
			if claims != nil && origin != "" && cors != nil && claims.CredentialScope == CredentialScopeAppUser &&
				cors.AllowOrigin != nil && cors.AllowOrigin(r.Context(), claims.ClientID, origin) {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
				if cors.AllowCredentials {
					w.Header().Set("Access-Control-Allow-Credentials", "true")
				}
			}
			if rerr != nil {
				rerr.Write(w, realm)
				return
			}
			if len(opts.CredentialScopes) > 0 && !slices.Contains(opts.CredentialScopes, claims.CredentialScope) {
				scheme := SchemeBearer
				if claims.Confirmation.JKT != "" {
					scheme = SchemeDPoP
				}
				e := &RequestError{Status: http.StatusForbidden, Code: "insufficient_scope", Scheme: scheme, algs: v.dpop.algs,
					Description: "The token's credential scope (credential_scope) may not use this resource; it takes " +
						strings.Join(opts.CredentialScopes, " and ") + " tokens."}
				e.Write(w, realm)
				return
			}
			if nonced {
				// The nonce to use next, before the one just used expires
				// (RFC 9449 §9).
				w.Header().Set("DPoP-Nonce", v.dpop.nonces.Nonce())
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
		})
	}
}

func (c CORS) withDefaults() CORS {
	if len(c.AllowMethods) == 0 {
		c.AllowMethods = []string{http.MethodPost, http.MethodGet}
	}
	if len(c.AllowHeaders) == 0 {
		c.AllowHeaders = []string{"Authorization", "Content-Type", "DPoP"}
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 10 * time.Minute
	}
	return c
}

// ServePreflight answers the CORS preflight r (an OPTIONS request with
// Origin and Access-Control-Request-Method; Fetch §3.2.2) with 204: with
// the CORS headers only when AllowPreflight allows its origin and the
// method and headers asked for are allowed, otherwise without them, which
// the browser treats as a refusal. It is what Middleware does with
// preflights, for endpoints that need no token.
func (c CORS) ServePreflight(w http.ResponseWriter, r *http.Request) {
	c = c.withDefaults()
	if r.Header.Get("Origin") != "" {
		w.Header().Add("Vary", "Origin")
	}
	c.preflight(w, r, r.Header.Get("Origin"))
}

func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	cors := c
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if origin == "" || cors.AllowPreflight == nil || !cors.AllowPreflight(r.Context(), origin) ||
		!slices.Contains(cors.AllowMethods, r.Header.Get("Access-Control-Request-Method")) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	for _, name := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		name = strings.TrimSpace(name)
		if name != "" && !slices.ContainsFunc(cors.AllowHeaders, func(a string) bool { return strings.EqualFold(a, name) }) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", strings.Join(cors.AllowMethods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(cors.AllowHeaders, ", "))
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(cors.MaxAge/time.Second)))
	if cors.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeError writes {"error","error_description"} (RFC 6750 §3).
func writeError(w http.ResponseWriter, status int, code, description string) {
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
