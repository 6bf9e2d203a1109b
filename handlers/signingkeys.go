package handlers

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/signingkeys"
)

// SigningKeyAdmin is the signing-key lifecycle as the admin API uses it
// (*signingkeys.KeyManager implements it).
type SigningKeyAdmin interface {
	ListKeys(ctx context.Context) (signingkeys.Listing, error)
	Rotate(ctx context.Context, actor authserver.Actor, immediate bool) (signingkeys.RotateResult, error)
	Discard(ctx context.Context, actor authserver.Actor, kid string) (signingkeys.KeyView, error)
	Reactivate(ctx context.Context, actor authserver.Actor, kid string) (signingkeys.KeyView, error)
	Delete(ctx context.Context, actor authserver.Actor, kid string) error
	KEKStatus(ctx context.Context) (signingkeys.KEKStatus, error)
	RotateKEK(ctx context.Context, actor authserver.Actor) (signingkeys.KEKStatus, error)
}

var _ SigningKeyAdmin = (*signingkeys.KeyManager)(nil)

type signingKeysHandler struct {
	keys SigningKeyAdmin
}

// list answers GET /admin/v1/signing-keys: every key with its state and
// life, never private material.
func (h *signingKeysHandler) list(w http.ResponseWriter, r *http.Request) {
	l, err := h.keys.ListKeys(r.Context())
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// rotateRequest is the optional body of POST /admin/v1/signing-keys/rotate.
// immediate: the new key signs at once (after a compromise) instead of
// after the publish-ahead overlap.
type rotateRequest struct {
	Immediate bool `json:"immediate"`
}

func (h *signingKeysHandler) rotate(w http.ResponseWriter, r *http.Request) {
	var req rotateRequest
	if r.ContentLength != 0 && !decodeJSON(w, r, &req) {
		return
	}
	res, err := h.keys.Rotate(r.Context(), actorOf(r), req.Immediate)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *signingKeysHandler) discard(w http.ResponseWriter, r *http.Request) {
	v, err := h.keys.Discard(r.Context(), actorOf(r), mux.Vars(r)["kid"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *signingKeysHandler) reactivate(w http.ResponseWriter, r *http.Request) {
	v, err := h.keys.Reactivate(r.Context(), actorOf(r), mux.Vars(r)["kid"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// remove answers DELETE /admin/v1/signing-keys/{kid}?confirm={kid}: the
// kid repeated in confirm is the explicit confirmation an irreversible
// deletion needs (docs/admin-api.md, "Routes"). 204 on success.
func (h *signingKeysHandler) remove(w http.ResponseWriter, r *http.Request) {
	kid := mux.Vars(r)["kid"]
	if r.URL.Query().Get("confirm") != kid {
		writeAdminError(w, r, http.StatusBadRequest, "confirmation_required",
			"deleting a signing key is irreversible: repeat its kid in the confirm query parameter")
		return
	}
	if err := h.keys.Delete(r.Context(), actorOf(r), kid); err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeNoContent(w)
}

// kekStatus answers GET /admin/v1/kek: the current KEK id and how many
// signing keys each KEK id seals.
func (h *signingKeysHandler) kekStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.keys.KEKStatus(r.Context())
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// rotateKEK answers POST /admin/v1/kek/rotate: every private signing key
// re-sealed under the current KEK.
func (h *signingKeysHandler) rotateKEK(w http.ResponseWriter, r *http.Request) {
	st, err := h.keys.RotateKEK(r.Context(), actorOf(r))
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
