package handlers

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/users"
)

// TestUserAdmin manages test users.
type TestUserAdmin interface {
	Create(ctx context.Context, actor authserver.Actor, appID string, in users.NewTestUser) (users.TestUserView, error)
	List(ctx context.Context, appID string, page authserver.Page) ([]users.TestUserView, string, error)
	Delete(ctx context.Context, actor authserver.Actor, appID, username string) error
}

// AssertionKeyAdmin manages how apps sign their own JWTs.
type AssertionKeyAdmin interface {
	Get(ctx context.Context, appID string) (apps.AssertionKeysView, error)
	Set(ctx context.Context, actor authserver.Actor, appID string, in apps.AssertionKeySettings) (apps.AssertionKeysView, error)
}

// UserAdmin is what the end-user admin routes serve.
type UserAdmin struct {
	TestUsers     TestUserAdmin
	AssertionKeys AssertionKeyAdmin
}

// mountUserAdmin adds, under /admin/v1:
//
//	POST   /apps/{id}/users             register a test user (admin)
//	GET    /apps/{id}/users             list test users (viewer)
//	DELETE /apps/{id}/users/{username}  delete a test user (admin)
//	GET    /apps/{id}/assertion-keys    an app's assertion-key settings (viewer)
//	PUT    /apps/{id}/assertion-keys    replace them (admin)
func mountUserAdmin(api *mux.Router, u *UserAdmin) {
	h := &userAdminHandler{u: u}
	api.Handle("/apps/{id}/users", require(accounts.RoleAdmin, h.createUser)).Methods(http.MethodPost)
	api.Handle("/apps/{id}/users", require(accounts.RoleViewer, h.listUsers)).Methods(http.MethodGet)
	api.Handle("/apps/{id}/users/{username}", require(accounts.RoleAdmin, h.deleteUser)).Methods(http.MethodDelete)
	api.Handle("/apps/{id}/assertion-keys", require(accounts.RoleViewer, h.getKeys)).Methods(http.MethodGet)
	api.Handle("/apps/{id}/assertion-keys", require(accounts.RoleAdmin, h.setKeys)).Methods(http.MethodPut)
}

type userAdminHandler struct {
	u *UserAdmin
}

func (h *userAdminHandler) createUser(w http.ResponseWriter, r *http.Request) {
	var in users.NewTestUser
	if !decodeJSON(w, r, &in) {
		return
	}
	appID := mux.Vars(r)["id"]
	created, err := h.u.TestUsers.Create(r.Context(), actorOf(r), appID, in)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/v1/apps/"+appID+"/users/"+created.Username)
	writeJSON(w, http.StatusCreated, created)
}

func (h *userAdminHandler) listUsers(w http.ResponseWriter, r *http.Request) {
	page, ok := pageOf(r)
	if !ok {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_limit", "limit must be 1 to 500")
		return
	}
	rows, next, err := h.u.TestUsers.List(r.Context(), mux.Vars(r)["id"], page)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[users.TestUserView]{Items: rows, NextAfter: next})
}

func (h *userAdminHandler) deleteUser(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if err := h.u.TestUsers.Delete(r.Context(), actorOf(r), v["id"], v["username"]); err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeNoContent(w)
}

func (h *userAdminHandler) getKeys(w http.ResponseWriter, r *http.Request) {
	view, err := h.u.AssertionKeys.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// assertionKeysRequest is the body of PUT .../assertion-keys: the whole
// settings, replaced at once.
type assertionKeysRequest struct {
	JWKS          json.RawMessage `json:"jwks"`
	JWKSURI       string          `json:"jwks_uri"`
	SecretSigning bool            `json:"secret_signing"`
}

func (h *userAdminHandler) setKeys(w http.ResponseWriter, r *http.Request) {
	var in assertionKeysRequest
	if !decodeJSON(w, r, &in) {
		return
	}
	view, err := h.u.AssertionKeys.Set(r.Context(), actorOf(r), mux.Vars(r)["id"], apps.AssertionKeySettings{
		JWKS: in.JWKS, JWKSURI: in.JWKSURI, SecretSigning: in.SecretSigning,
	})
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}
