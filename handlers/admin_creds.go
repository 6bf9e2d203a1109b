package handlers

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/audit"
)

// SecretAdmin is the secret lifecycle of an app as the admin API uses it
// (docs/admin-api.md, "Secrets: the rules").
type SecretAdmin interface {
	ListSecrets(ctx context.Context, appID string) ([]apps.SecretView, error)
	GetSecret(ctx context.Context, appID, secretID string) (apps.SecretView, error)
	CreateSecret(ctx context.Context, actor authserver.Actor, appID, idempotencyKey string) (apps.CreatedSecret, error)
	RotateSecret(ctx context.Context, actor authserver.Actor, appID string, req apps.RotateSecret) (apps.RotatedSecret, error)
	DiscardSecret(ctx context.Context, actor authserver.Actor, appID, secretID string) (apps.SecretView, error)
	ReactivateSecret(ctx context.Context, actor authserver.Actor, appID, secretID string) (apps.SecretView, error)
	DeleteSecret(ctx context.Context, actor authserver.Actor, appID, secretID, confirm string) error
}

// AccountKeyAdmin manages account keys (owners only).
type AccountKeyAdmin interface {
	CreateKey(ctx context.Context, actor authserver.Actor, in accounts.NewKeyRequest) (accounts.CreatedKey, error)
	ListKeys(ctx context.Context, actor authserver.Actor) ([]accounts.KeyView, error)
	DeleteKey(ctx context.Context, actor authserver.Actor, id string) error
}

// AuditReader lists the audit log.
type AuditReader interface {
	ListEvents(ctx context.Context, q audit.Query) ([]audit.EventView, string, error)
}

// AuditLog is the audit log as the admin API uses it: it counts refused
// requests and lists events.
type AuditLog interface {
	FailureCounter
	AuditReader
}

// idempotencyKeyHeader names the header that makes a create safe to
// retry (draft-ietf-httpapi-idempotency-key-header).
const idempotencyKeyHeader = "Idempotency-Key"

// writeCreated answers a create: 201 with Location, or 200 with
// "Idempotent-Replayed: true" when the request repeated an earlier one.
func writeCreated(w http.ResponseWriter, location string, replayed bool, v any) {
	w.Header().Set("Location", location)
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusOK, v)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// decodeOptionalJSON is decodeJSON for requests whose body may be empty
// (all fields optional).
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// Let decodeJSON word the error (size limit, broken stream).
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return decodeJSON(w, r, v)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decodeJSON(w, r, v)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// updateAppRequest is the body of PATCH /admin/v1/apps/{id}: every field
// present replaces the app's value.
type updateAppRequest struct {
	Name                *string   `json:"name"`
	Scopes              *[]string `json:"scopes"`
	Audiences           *[]string `json:"audiences"`
	Origins             *[]string `json:"origins"`
	AccessTokenLifetime *string   `json:"access_token_lifetime"`
	UserTokenLifetime   *string   `json:"user_token_lifetime"`
	// DPoPBoundAccessTokens and DPoPNonceRequired: the app's DPoP policy.
	DPoPBoundAccessTokens *bool `json:"dpop_bound_access_tokens"`
	DPoPNonceRequired     *bool `json:"dpop_nonce_required"`
}

func (h *appsHandler) update(w http.ResponseWriter, r *http.Request) {
	var req updateAppRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	u := apps.AppUpdate{Name: req.Name, Scopes: req.Scopes, Audiences: req.Audiences, Origins: req.Origins,
		DPoPBoundAccessTokens: req.DPoPBoundAccessTokens, DPoPNonceRequired: req.DPoPNonceRequired}
	for _, l := range []struct {
		in  *string
		out **time.Duration
	}{{req.AccessTokenLifetime, &u.AccessTokenLifetime}, {req.UserTokenLifetime, &u.UserTokenLifetime}} {
		if l.in == nil {
			continue
		}
		d, ok := parseLifetime(*l.in)
		if !ok {
			writeAdminError(w, r, http.StatusBadRequest, "invalid_lifetime", `lifetimes are durations such as "15m" or "1h"; "" is the server default`)
			return
		}
		*l.out = &d
	}
	app, err := h.apps.Update(r.Context(), actorOf(r), mux.Vars(r)["id"], u)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, app)
}

func (h *appsHandler) setEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var none struct{}
		if !decodeOptionalJSON(w, r, &none) {
			return
		}
		app, err := h.apps.SetEnabled(r.Context(), actorOf(r), mux.Vars(r)["id"], enabled)
		if err != nil {
			writeDomainError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, app)
	}
}

type secretsHandler struct {
	secrets SecretAdmin
}

func secretLocation(appID, secretID string) string {
	return "/admin/v1/apps/" + appID + "/secrets/" + secretID
}

func (h *secretsHandler) list(w http.ResponseWriter, r *http.Request) {
	secrets, err := h.secrets.ListSecrets(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[apps.SecretView]{Items: secrets})
}

func (h *secretsHandler) get(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	sec, err := h.secrets.GetSecret(r.Context(), v["id"], v["sid"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sec)
}

func (h *secretsHandler) create(w http.ResponseWriter, r *http.Request) {
	var none struct{}
	if !decodeOptionalJSON(w, r, &none) {
		return
	}
	appID := mux.Vars(r)["id"]
	created, err := h.secrets.CreateSecret(r.Context(), actorOf(r), appID, r.Header.Get(idempotencyKeyHeader))
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeCreated(w, secretLocation(appID, created.ID), created.Replay != nil, created)
}

// rotateSecretRequest is the body of POST /admin/v1/apps/{id}/secrets/rotate;
// both fields are optional.
type rotateSecretRequest struct {
	// SecretID is the secret to rotate out; default the app's one active
	// secret.
	SecretID string `json:"secret_id"`
	// GracePeriod is how long it keeps working, e.g. "24h" (the default)
	// or "0s".
	GracePeriod *string `json:"grace_period"`
}

func (h *secretsHandler) rotate(w http.ResponseWriter, r *http.Request) {
	var req rotateSecretRequest
	if !decodeOptionalJSON(w, r, &req) {
		return
	}
	in := apps.RotateSecret{SecretID: req.SecretID, IdempotencyKey: r.Header.Get(idempotencyKeyHeader)}
	if req.GracePeriod != nil {
		d, err := time.ParseDuration(*req.GracePeriod)
		if err != nil {
			writeAdminError(w, r, http.StatusBadRequest, "invalid_grace_period", `grace_period is a duration such as "24h" or "0s"`)
			return
		}
		in.GracePeriod = &d
	}
	appID := mux.Vars(r)["id"]
	rotated, err := h.secrets.RotateSecret(r.Context(), actorOf(r), appID, in)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeCreated(w, secretLocation(appID, rotated.ID), rotated.Replay != nil, rotated)
}

func (h *secretsHandler) discard(w http.ResponseWriter, r *http.Request) {
	h.transition(w, r, h.secrets.DiscardSecret)
}

func (h *secretsHandler) reactivate(w http.ResponseWriter, r *http.Request) {
	h.transition(w, r, h.secrets.ReactivateSecret)
}

func (h *secretsHandler) transition(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, actor authserver.Actor, appID, secretID string) (apps.SecretView, error)) {
	var none struct{}
	if !decodeOptionalJSON(w, r, &none) {
		return
	}
	v := mux.Vars(r)
	sec, err := do(r.Context(), actorOf(r), v["id"], v["sid"])
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sec)
}

// del deletes an inactive secret; ?confirm= must repeat its id.
func (h *secretsHandler) del(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if err := h.secrets.DeleteSecret(r.Context(), actorOf(r), v["id"], v["sid"], r.URL.Query().Get("confirm")); err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeNoContent(w)
}

type accountKeysHandler struct {
	keys AccountKeyAdmin
}

func (h *accountKeysHandler) create(w http.ResponseWriter, r *http.Request) {
	var req accounts.NewKeyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	req.IdempotencyKey = r.Header.Get(idempotencyKeyHeader)
	created, err := h.keys.CreateKey(r.Context(), actorOf(r), req)
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeCreated(w, "/admin/v1/account-keys/"+created.ID, created.Replay != nil, created)
}

func (h *accountKeysHandler) list(w http.ResponseWriter, r *http.Request) {
	keys, err := h.keys.ListKeys(r.Context(), actorOf(r))
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[accounts.KeyView]{Items: keys})
}

func (h *accountKeysHandler) del(w http.ResponseWriter, r *http.Request) {
	if err := h.keys.DeleteKey(r.Context(), actorOf(r), mux.Vars(r)["id"]); err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeNoContent(w)
}

type auditHandler struct {
	audit AuditReader
}

// list answers GET /admin/v1/audit?app=&actor=&action=&limit=&after=,
// newest first.
func (h *auditHandler) list(w http.ResponseWriter, r *http.Request) {
	page, ok := pageOf(r)
	if !ok {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_limit", "limit must be 1 to 500")
		return
	}
	q := r.URL.Query()
	events, next, err := h.audit.ListEvents(r.Context(), audit.Query{
		AppID: strings.TrimSpace(q.Get("app")), Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		After: page.After, Limit: page.Limit,
	})
	if err != nil {
		writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[audit.EventView]{Items: events, NextAfter: next})
}
