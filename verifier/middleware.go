package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS answers cross-origin requests by credential scope
// (docs/credentials.md, "Browsers"): a
// response carries Access-Control-Allow-Origin only when the request's
// token is appUser-scoped and its app allows the origin. App and account
// tokens never get CORS headers, so using one from a browser fails the
// browser's same-origin check.
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
	// (case-insensitive); default Authorization and Content-Type.
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
	// request has no Authorization header.
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
// only with a valid bearer token (RFC 6750 §2.1, or the cookie named by
// opts.Cookie), with its claims in the context (ClaimsFromContext). It
// answers 401 with a WWW-Authenticate challenge when the token is missing
// (no error code, RFC 6750 §3.1) or invalid (error="invalid_token"), 403
// insufficient_scope for a credential scope not allowed, and 503 when the
// JWKS cannot be had. A refusal says which check failed in its
// error_description, in the body and in the challenge (Description),
// never the token. With opts.CORS it answers preflights itself.
func (v *Verifier) Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	realm := opts.Realm
	if realm == "" {
		realm = "resource"
	}
	cors := opts.CORS
	if cors != nil {
		c := cors.withDefaults()
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
			token := BearerToken(r)
			if token == "" && opts.Cookie != "" && r.Header.Get("Authorization") == "" {
				if c, err := r.Cookie(opts.Cookie); err == nil {
					token = c.Value
				}
			}
			if token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
				// No error code: the request had no credential (RFC 6750 §3.1).
				writeError(w, http.StatusUnauthorized, "unauthorized", "A bearer token is required.")
				return
			}
			claims, err := v.verify(r.Context(), token, opts.AnyAudience)
			if errors.Is(err, ErrKeySetUnavailable) {
				w.Header().Set("Retry-After", "5")
				writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", Description(err))
				return
			}
			if err != nil {
				desc := Description(err)
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token", error_description="`+desc+`"`)
				writeError(w, http.StatusUnauthorized, "invalid_token", desc)
				return
			}
			if origin != "" && cors != nil && claims.CredentialScope == CredentialScopeAppUser &&
				cors.AllowOrigin != nil && cors.AllowOrigin(r.Context(), claims.ClientID, origin) {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				if cors.AllowCredentials {
					w.Header().Set("Access-Control-Allow-Credentials", "true")
				}
			}
			if len(opts.CredentialScopes) > 0 && !slices.Contains(opts.CredentialScopes, claims.CredentialScope) {
				desc := "The token's credential scope (credential_scope) may not use this resource; it takes " +
					strings.Join(opts.CredentialScopes, " and ") + " tokens."
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="insufficient_scope", error_description="`+desc+`"`)
				writeError(w, http.StatusForbidden, "insufficient_scope", desc)
				return
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
		c.AllowHeaders = []string{"Authorization", "Content-Type"}
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
