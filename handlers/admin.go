package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/authserver/authserver/authserver"
)

// AccountAuthenticator authenticates an account key.
type AccountAuthenticator interface {
	Authenticate(key string) (authserver.Actor, error)
}

// AppAdmin is the app lifecycle as the admin API uses it.
type AppAdmin interface {
	Create(ctx context.Context, actor authserver.Actor, in authserver.NewApp) (authserver.CreatedApp, error)
	Get(ctx context.Context, id string) (authserver.AppView, error)
	List(ctx context.Context, namePrefix string, page authserver.Page) ([]authserver.AppView, string, error)
}

const actorKey ctxKey = 100

// actorOf returns the authenticated actor of an admin request.
func actorOf(r *http.Request) authserver.Actor {
	a, _ := r.Context().Value(actorKey).(authserver.Actor)
	return a
}

// authenticate requires "Authorization: Bearer <account key>" and puts the
// actor, with the client address as source, in the request context.
func authenticate(accounts AccountAuthenticator) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="authserver-admin"`)
				writeAdminError(w, r, http.StatusUnauthorized, "unauthenticated", "an account key is required: Authorization: Bearer <key>")
				return
			}
			actor, err := accounts.Authenticate(strings.TrimSpace(key))
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="authserver-admin", error="invalid_token"`)
				writeDomainError(w, r, err)
				return
			}
			actor.Source = r.RemoteAddr
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey, actor)))
		})
	}
}

// require lets the request through only if the actor's role allows role.
func require(role string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authserver.RoleAllows(actorOf(r).Role, role) {
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
	Name                string   `json:"name"`
	Environment         string   `json:"environment"`
	Scopes              []string `json:"scopes"`
	Audiences           []string `json:"audiences"`
	Origins             []string `json:"origins"`
	AccessTokenLifetime string   `json:"access_token_lifetime"`
	UserTokenLifetime   string   `json:"user_token_lifetime"`
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
	created, err := h.apps.Create(r.Context(), actorOf(r), authserver.NewApp{
		Name: req.Name, Environment: req.Environment, Scopes: req.Scopes, Audiences: req.Audiences,
		Origins: req.Origins, AccessTokenLifetime: at, UserTokenLifetime: ut,
	})
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/v1/apps/"+created.ID)
	writeJSON(w, http.StatusCreated, created)
}

func (h *appsHandler) list(w http.ResponseWriter, r *http.Request) {
	page, ok := pageOf(r)
	if !ok {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_limit", "limit must be 1 to 500")
		return
	}
	apps, next, err := h.apps.List(r.Context(), r.URL.Query().Get("name"), page)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[authserver.AppView]{Items: apps, NextAfter: next})
}

func (h *appsHandler) get(w http.ResponseWriter, r *http.Request) {
	app, err := h.apps.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, app)
}
