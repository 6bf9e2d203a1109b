package handlers

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/credential"
)

// AccountAuthenticator authenticates an account key.
type AccountAuthenticator interface {
	Authenticate(key string) (authserver.Actor, error)
}

// AppAdmin is the app lifecycle as the admin API uses it.
type AppAdmin interface {
	Create(ctx context.Context, actor authserver.Actor, in apps.NewApp) (apps.CreatedApp, error)
	Get(ctx context.Context, id string) (apps.AppView, error)
	List(ctx context.Context, namePrefix string, page authserver.Page) ([]apps.AppView, string, error)
	Update(ctx context.Context, actor authserver.Actor, id string, u apps.AppUpdate) (apps.AppView, error)
	SetEnabled(ctx context.Context, actor authserver.Actor, id string, enabled bool) (apps.AppView, error)
}

// FailureCounter counts refused admin requests for the audit log (one
// event per distinct failure and window, never one per request).
type FailureCounter interface {
	Fail(actor authserver.Actor, action, target, appID, outcome string)
}

const (
	actorKey ctxKey = 100
	failKey  ctxKey = 101
)

// actorOf returns the authenticated actor of an admin request.
func actorOf(r *http.Request) authserver.Actor {
	a, _ := r.Context().Value(actorKey).(authserver.Actor)
	return a
}

// authenticate requires "Authorization: Bearer <account key>" and puts the
// actor, with the client's host as source, in the request context. A
// missing or wrong key is counted in fails (which may be nil), not logged
// one event each.
func authenticate(accounts AccountAuthenticator, fails FailureCounter) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				countFailure(fails, authserver.Actor{ID: authserver.ActorAnonymous.ID, Source: r.RemoteAddr}, "admin.authenticate", "", "", "unauthenticated")
				w.Header().Set("WWW-Authenticate", `Bearer realm="authserver-admin"`)
				writeAdminError(w, r, http.StatusUnauthorized, "unauthenticated", "an account key is required: Authorization: Bearer <key>")
				return
			}
			actor, err := accounts.Authenticate(strings.TrimSpace(key))
			if err != nil {
				countFailure(fails, authserver.Actor{ID: authserver.ActorAnonymous.ID, Source: r.RemoteAddr}, "admin.authenticate", "", "", "unauthenticated")
				w.Header().Set("WWW-Authenticate", `Bearer realm="authserver-admin", error="invalid_token"`)
				writeDomainError(w, r, err)
				return
			}
			actor.Source = clientHost(r.RemoteAddr)
			ctx := context.WithValue(r.Context(), actorKey, actor)
			if fails != nil {
				ctx = context.WithValue(ctx, failKey, fails)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func countFailure(fails FailureCounter, actor authserver.Actor, action, target, appID, outcome string) {
	if fails != nil {
		fails.Fail(actor, action, target, appID, outcome)
	}
}

// clientHost is the host of a host:port remote address.
func clientHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// require lets the request through only if the actor's role allows role;
// a refusal is counted for the audit log under the route's template.
func require(role string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor := actorOf(r)
		if !accounts.RoleAllows(actor.Role, role) {
			if fails, ok := r.Context().Value(failKey).(FailureCounter); ok {
				target := r.Method + " " + r.URL.Path
				if rt := mux.CurrentRoute(r); rt != nil {
					if t, err := rt.GetPathTemplate(); err == nil {
						target = r.Method + " " + t
					}
				}
				appID := ""
				if strings.HasPrefix(r.URL.Path, "/admin/v1/apps/") {
					appID = mux.Vars(r)["id"]
				}
				fails.Fail(actor, "admin.request", target, appID, "forbidden")
			}
			writeAdminError(w, r, http.StatusForbidden, "forbidden", "this account key's role does not allow that")
			return
		}
		h(w, r)
	})
}

func adminNotFound(w http.ResponseWriter, r *http.Request) {
	writeAdminError(w, r, http.StatusNotFound, "not_found", "no such route")
}

func adminMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeAdminError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
}

// notFound and methodNotAllowed answer the public listener's unknown routes
// in the RFC 6749 error shape.
func notFound(w http.ResponseWriter, r *http.Request) {
	setErrorCode(r, "not_found")
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "No such endpoint."})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	setErrorCode(r, "method_not_allowed")
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "Method not allowed on this endpoint."})
}

// pageOf reads ?limit= and ?after= (the cursor of the previous page).
func pageOf(r *http.Request) (authserver.Page, bool) {
	q := r.URL.Query()
	p := authserver.Page{After: q.Get("after")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return p, false
		}
		p.Limit = n
	}
	return p, true
}

// list is the envelope of every admin listing; next_after is the cursor of
// the following page, absent at the end.
type list[T any] struct {
	Items     []T    `json:"items"`
	NextAfter string `json:"next_after,omitempty"`
}

type appsHandler struct {
	apps AppAdmin
}

// createAppRequest is the body of POST /admin/v1/apps. Lifetimes are
// durations such as "15m".
type createAppRequest struct {
	Name string `json:"name"`
	// Environment is nil when absent (then live); a present "" is refused
	// by apps.Create, as the document's enum refuses it.
	Environment         *string  `json:"environment"`
	Scopes              []string `json:"scopes"`
	Audiences           []string `json:"audiences"`
	Origins             []string `json:"origins"`
	AccessTokenLifetime string   `json:"access_token_lifetime"`
	UserTokenLifetime   string   `json:"user_token_lifetime"`
	// DPoPBoundAccessTokens and DPoPNonceRequired: RFC 9449 §5.2's client
	// metadata and the nonce requirement (apps.NewApp).
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
	DPoPNonceRequired     bool `json:"dpop_nonce_required"`
}

func parseLifetime(s string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

func (h *appsHandler) create(w http.ResponseWriter, r *http.Request) {
	var req createAppRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	at, ok1 := parseLifetime(req.AccessTokenLifetime)
	ut, ok2 := parseLifetime(req.UserTokenLifetime)
	if !ok1 || !ok2 {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_lifetime", `lifetimes are durations such as "15m" or "1h"`)
		return
	}
	env := credential.EnvLive // the document's default
	if req.Environment != nil {
		env = *req.Environment
	}
	created, err := h.apps.Create(r.Context(), actorOf(r), apps.NewApp{
		Name: req.Name, Environment: env, Scopes: req.Scopes, Audiences: req.Audiences,
		Origins: req.Origins, AccessTokenLifetime: at, UserTokenLifetime: ut,
		DPoPBoundAccessTokens: req.DPoPBoundAccessTokens, DPoPNonceRequired: req.DPoPNonceRequired,
		IdempotencyKey: r.Header.Get(idempotencyKeyHeader),
	})
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeCreated(w, "/admin/v1/apps/"+created.ID, created.Replay != nil, created)
}

func (h *appsHandler) list(w http.ResponseWriter, r *http.Request) {
	page, ok := pageOf(r)
	if !ok {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_limit", "limit must be 1 to 500")
		return
	}
	rows, next, err := h.apps.List(r.Context(), r.URL.Query().Get("name"), page)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[apps.AppView]{Items: rows, NextAfter: next})
}

func (h *appsHandler) get(w http.ResponseWriter, r *http.Request) {
	app, err := h.apps.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, app)
}
