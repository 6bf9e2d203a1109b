package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver"
)

// TokenProvider is the part of fosite's provider the token endpoint uses.
type TokenProvider interface {
	NewAccessRequest(ctx context.Context, req *http.Request, session fosite.Session) (fosite.AccessRequester, error)
	NewAccessResponse(ctx context.Context, requester fosite.AccessRequester) (fosite.AccessResponder, error)
	WriteAccessResponse(ctx context.Context, rw http.ResponseWriter, requester fosite.AccessRequester, responder fosite.AccessResponder)
	WriteAccessError(ctx context.Context, rw http.ResponseWriter, requester fosite.AccessRequester, err error)
}

// KeySource publishes the JWKS.
type KeySource interface {
	JWKS() (body []byte, etag string)
}

// Pinger checks the database (readiness).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Public is what the public listener serves.
type Public struct {
	Provider TokenProvider
	Keys     KeySource
	Metadata authserver.Metadata
	Store    Pinger
	Log      *slog.Logger
	// MaxBodyBytes bounds every request body (default 64 KiB).
	MaxBodyBytes int64
	// JWKSMaxAge is the Cache-Control max-age of the JWKS (default 5m); it
	// must not exceed the signing keys' publish-ahead time.
	JWKSMaxAge time.Duration
	// Users, if set, serves /customer_authenticate and /getprofile.
	Users *Users
	// Authenticate authenticates the clients of introspection and
	// revocation: the token endpoint's strategy, rate limit included.
	Authenticate authserver.ClientAuthenticationStrategy
	Introspector Introspector
	Revoker      Revoker
	// Signer names the signing algorithm counted with each token issued.
	Signer SigningKeySource
	// Instruments receives per-route and per-token measurements; nil
	// measures nothing. The public listener never serves them.
	Instruments Instruments
	// MaxConcurrent caps the requests served at once (default 1024);
	// more get 503 temporarily_unavailable with Retry-After.
	MaxConcurrent int
}

// Admin is what the admin listener serves.
type Admin struct {
	Accounts AccountAuthenticator
	Apps     AppAdmin
	Store    Pinger
	Log      *slog.Logger
	// MaxBodyBytes bounds every request body (default 64 KiB).
	MaxBodyBytes int64
	// SigningKeys is the signing-key and KEK lifecycle.
	SigningKeys SigningKeyAdmin

	// Secrets, AccountKeys and Audit serve the credential lifecycle
	// routes; Audit also counts refused requests.
	Secrets     SecretAdmin
	AccountKeys AccountKeyAdmin
	Audit       AuditLog
	// Users, if set, serves test users and assertion-key settings.
	Users *UserAdmin
	// Instruments receives per-route measurements; nil measures nothing.
	Instruments Instruments
	// Metrics, if set, is served at GET /metrics (Prometheus), with no
	// account key: the admin listener is private, and a scraper holds no
	// key.
	Metrics http.Handler
	// MaxConcurrent caps the requests served at once (default 1024).
	MaxConcurrent int

	// Console, if set, serves the admin console under /console.
	Console http.Handler
}

const defaultMaxBody = 64 << 10

// NewPublicRouter mounts every public route.
func NewPublicRouter(p Public) http.Handler {
	r := mux.NewRouter()
	token := &tokenHandler{provider: p.Provider, newSession: func() fosite.Session { return authserver.NewSession() },
		instruments: instrumentsOrNone(p.Instruments), signer: p.Signer}
	r.Handle("/oauth2/token", token).Methods(http.MethodPost)
	r.Handle("/access_token", token).Methods(http.MethodPost)
	r.Handle("/.well-known/jwks.json", jwksHandler(p.Keys, p.JWKSMaxAge)).Methods(http.MethodGet, http.MethodHead)
	metadata := metadataHandler(p.Metadata)
	r.Handle("/.well-known/oauth-authorization-server", metadata).Methods(http.MethodGet, http.MethodHead)
	// The same document where OpenID Connect clients look first (RFC 8414
	// §5): go-oidc's NewProvider, ASP.NET Core's JwtBearer, Spring's
	// issuer-uri.
	r.Handle("/.well-known/openid-configuration", metadata).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/healthz", healthz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", readyz(p.Store)).Methods(http.MethodGet, http.MethodHead)
	if p.Users != nil {
		mountUsers(r, p.Users, instrumentsOrNone(p.Instruments), p.Signer)
	}
	r.Handle("/oauth2/introspect", &introspectHandler{authenticate: p.Authenticate, introspector: p.Introspector}).Methods(http.MethodPost)
	r.Handle("/oauth2/revoke", &revokeHandler{authenticate: p.Authenticate, revoker: p.Revoker}).Methods(http.MethodPost)
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
	l := &listener{name: "public", maxBody: p.MaxBodyBytes, concurrency: p.MaxConcurrent, instruments: p.Instruments, writeError: writeOAuthError}
	l.tooLarge.status, l.tooLarge.code = http.StatusBadRequest, "invalid_request"
	return chain(r, p.Log, l)
}

// NewAdminRouter mounts every admin route under /admin/v1; each checks the
// account key's role.
func NewAdminRouter(a Admin) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", healthz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", readyz(a.Store)).Methods(http.MethodGet, http.MethodHead)
	if a.Metrics != nil {
		r.Handle("/metrics", a.Metrics).Methods(http.MethodGet)
	}
	// Before the subrouter, whose routes all need an account key.
	r.Handle("/admin/v1/openapi.json", openAPIDocument()).Methods(http.MethodGet)
	api := r.PathPrefix("/admin/v1").Subrouter()
	api.Use(authenticate(a.Accounts, a.Audit))
	apps := &appsHandler{apps: a.Apps}
	api.Handle("/apps", require(authserver.RoleAdmin, apps.create)).Methods(http.MethodPost)
	api.Handle("/apps", require(authserver.RoleViewer, apps.list)).Methods(http.MethodGet)
	api.Handle("/apps/{id}", require(authserver.RoleViewer, apps.get)).Methods(http.MethodGet)
	keys := &signingKeysHandler{keys: a.SigningKeys}
	api.Handle("/signing-keys", require(authserver.RoleViewer, keys.list)).Methods(http.MethodGet)
	api.Handle("/signing-keys/rotate", require(authserver.RoleAdmin, keys.rotate)).Methods(http.MethodPost)
	api.Handle("/signing-keys/{kid}/discard", require(authserver.RoleAdmin, keys.discard)).Methods(http.MethodPost)
	api.Handle("/signing-keys/{kid}/reactivate", require(authserver.RoleAdmin, keys.reactivate)).Methods(http.MethodPost)
	api.Handle("/signing-keys/{kid}", require(authserver.RoleAdmin, keys.remove)).Methods(http.MethodDelete)
	api.Handle("/kek", require(authserver.RoleViewer, keys.kekStatus)).Methods(http.MethodGet)
	api.Handle("/kek/rotate", require(authserver.RoleAdmin, keys.rotateKEK)).Methods(http.MethodPost)
	api.Handle("/apps/{id}", require(authserver.RoleAdmin, apps.update)).Methods(http.MethodPatch)
	api.Handle("/apps/{id}/disable", require(authserver.RoleAdmin, apps.setEnabled(false))).Methods(http.MethodPost)
	api.Handle("/apps/{id}/enable", require(authserver.RoleAdmin, apps.setEnabled(true))).Methods(http.MethodPost)
	secrets := &secretsHandler{secrets: a.Secrets}
	api.Handle("/apps/{id}/secrets", require(authserver.RoleViewer, secrets.list)).Methods(http.MethodGet)
	api.Handle("/apps/{id}/secrets", require(authserver.RoleAdmin, secrets.create)).Methods(http.MethodPost)
	api.Handle("/apps/{id}/secrets/rotate", require(authserver.RoleAdmin, secrets.rotate)).Methods(http.MethodPost)
	api.Handle("/apps/{id}/secrets/{sid}", require(authserver.RoleViewer, secrets.get)).Methods(http.MethodGet)
	api.Handle("/apps/{id}/secrets/{sid}", require(authserver.RoleAdmin, secrets.del)).Methods(http.MethodDelete)
	api.Handle("/apps/{id}/secrets/{sid}/discard", require(authserver.RoleAdmin, secrets.discard)).Methods(http.MethodPost)
	api.Handle("/apps/{id}/secrets/{sid}/reactivate", require(authserver.RoleAdmin, secrets.reactivate)).Methods(http.MethodPost)
	accountKeys := &accountKeysHandler{keys: a.AccountKeys}
	api.Handle("/account-keys", require(authserver.RoleOwner, accountKeys.list)).Methods(http.MethodGet)
	api.Handle("/account-keys", require(authserver.RoleOwner, accountKeys.create)).Methods(http.MethodPost)
	api.Handle("/account-keys/{id}", require(authserver.RoleOwner, accountKeys.del)).Methods(http.MethodDelete)
	audit := &auditHandler{audit: a.Audit}
	api.Handle("/audit", require(authserver.RoleViewer, audit.list)).Methods(http.MethodGet)
	if a.Users != nil {
		mountUserAdmin(api, a.Users)
	}
	api.NotFoundHandler = methodAwareNotFound(r, adminNotFound, adminMethodNotAllowed)
	api.MethodNotAllowedHandler = http.HandlerFunc(adminMethodNotAllowed)
	if a.Console != nil {
		r.PathPrefix("/console").Handler(a.Console)
	}
	r.NotFoundHandler = http.HandlerFunc(adminNotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(adminMethodNotAllowed)
	l := &listener{name: "admin", maxBody: a.MaxBodyBytes, concurrency: a.MaxConcurrent, instruments: a.Instruments, writeError: writeAdminError}
	l.tooLarge.status, l.tooLarge.code = http.StatusRequestEntityTooLarge, "body_too_large"
	return chain(r, a.Log, l)
}
