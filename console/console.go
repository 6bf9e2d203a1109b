package console

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/signingkeys"
)

// Accounts authenticates account keys at sign-in and looks the signed-in
// key up again on every request (*accounts.Accounts).
type Accounts interface {
	Authenticate(key string) (authserver.Actor, error)
	LookupKey(id string) (authserver.Actor, bool)
}

// AppService is the app lifecycle the console drives (*apps.Apps).
type AppService interface {
	Create(ctx context.Context, actor authserver.Actor, in apps.NewApp) (apps.CreatedApp, error)
	Get(ctx context.Context, id string) (apps.AppView, error)
	Update(ctx context.Context, actor authserver.Actor, id string, u apps.AppUpdate) (apps.AppView, error)
	List(ctx context.Context, namePrefix string, page authserver.Page) ([]apps.AppView, string, error)
	SetEnabled(ctx context.Context, actor authserver.Actor, id string, enabled bool) (apps.AppView, error)
}

// SecretService is the secret lifecycle of an app (*apps.Apps;
// docs/admin-api.md, "Secrets: the rules").
type SecretService interface {
	CreateSecret(ctx context.Context, actor authserver.Actor, appID, idempotencyKey string) (apps.CreatedSecret, error)
	RotateSecret(ctx context.Context, actor authserver.Actor, appID string, req apps.RotateSecret) (apps.RotatedSecret, error)
	DiscardSecret(ctx context.Context, actor authserver.Actor, appID, secretID string) (apps.SecretView, error)
	ReactivateSecret(ctx context.Context, actor authserver.Actor, appID, secretID string) (apps.SecretView, error)
	DeleteSecret(ctx context.Context, actor authserver.Actor, appID, secretID, confirm string) error
}

// SigningKeys is the signing-key lifecycle (*signingkeys.KeyManager).
type SigningKeys interface {
	ListKeys(ctx context.Context) (signingkeys.Listing, error)
	Rotate(ctx context.Context, actor authserver.Actor, immediate bool) (signingkeys.RotateResult, error)
	Discard(ctx context.Context, actor authserver.Actor, kid string) (signingkeys.KeyView, error)
	Reactivate(ctx context.Context, actor authserver.Actor, kid string) (signingkeys.KeyView, error)
	Delete(ctx context.Context, actor authserver.Actor, kid string) error
	// JWKS is the published key set (RFC 7517), for checking the token
	// tester's signatures.
	JWKS() (body []byte, etag string)
}

// AuditLog lists the audit log, records sign-ins and sign-outs, and
// counts refusals (*audit.Auditor).
type AuditLog interface {
	ListEvents(ctx context.Context, q audit.Query) ([]audit.EventView, string, error)
	Record(ctx context.Context, actor authserver.Actor, action, target, appID, outcome string, detail map[string]string)
	Fail(actor authserver.Actor, action, target, appID, outcome string)
}

var (
	_ Accounts      = (*accounts.Accounts)(nil)
	_ AppService    = (*apps.Apps)(nil)
	_ SecretService = (*apps.Apps)(nil)
	_ SigningKeys   = (*signingkeys.KeyManager)(nil)
	_ AuditLog      = (*audit.Auditor)(nil)
)

// Options configures the console. Every service is required.
type Options struct {
	Accounts Accounts
	Apps     AppService
	Secrets  SecretService
	Keys     SigningKeys
	Audit    AuditLog
	// TokenEndpoint is the public listener's handler: the token tester
	// sends its POST (RFC 6749 §4.4.2) through it in-process, so it runs
	// the same code as a client's request, without a network hop.
	TokenEndpoint http.Handler
	// TokenPath is the token endpoint's path on it ("/oauth2/token").
	TokenPath string
	// SecureCookie marks the session cookie Secure (and names it with the
	// __Host- prefix). It should be false only when the admin listener is
	// plain http on loopback.
	SecureCookie bool
	// IdleTimeout ends a session unused this long (default 30m);
	// Lifetime ends any session this long after sign-in (default 12h).
	IdleTimeout, Lifetime time.Duration
	// MaxSessions bounds the sessions kept in memory (default 10000).
	MaxSessions int
	// Now is the clock of session expiry and of the pages; default
	// time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Console is the admin console: server-rendered pages under /console on
// the admin listener. It is an http.Handler.
type Console struct {
	o        Options
	sessions *sessionStore
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the console. It fails only if a service is missing or an
// embedded template does not parse.
func New(o Options) (*Console, error) {
	if o.Accounts == nil || o.Apps == nil || o.Secrets == nil || o.Keys == nil || o.Audit == nil || o.TokenEndpoint == nil {
		return nil, fmt.Errorf("console: every service is required")
	}
	if o.TokenPath == "" {
		o.TokenPath = "/oauth2/token"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 12 * time.Hour
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, sessions: newSessionStore(o.IdleTimeout, o.Lifetime, o.MaxSessions, o.Now), pages: pages}
	c.routes()
	return c, nil
}

// routes mounts every console page and action: the whole surface on one
// screen. page(role, h) serves a GET to a signed-in session whose role
// allows role; action(role, h) does the same for a form POST after the
// same-origin and CSRF checks.
func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/static/{file}", serveStatic)
	m.HandleFunc("GET /console/signin", c.signInPage)
	m.HandleFunc("POST /console/signin", c.signIn)
	m.Handle("POST /console/signout", c.action(accounts.RoleViewer, c.signOut))

	m.Handle("GET /console/apps", c.page(accounts.RoleViewer, c.appsPage))
	m.Handle("GET /console/apps/new", c.page(accounts.RoleAdmin, c.newAppPage))
	m.Handle("POST /console/apps", c.action(accounts.RoleAdmin, c.createApp))
	m.Handle("GET /console/apps/{id}", c.page(accounts.RoleViewer, c.appPage))
	m.Handle("GET /console/apps/{id}/edit", c.page(accounts.RoleAdmin, c.editAppPage))
	m.Handle("POST /console/apps/{id}/edit", c.action(accounts.RoleAdmin, c.editApp))
	m.Handle("POST /console/apps/{id}/disable", c.action(accounts.RoleAdmin, c.setEnabled(false)))
	m.Handle("POST /console/apps/{id}/enable", c.action(accounts.RoleAdmin, c.setEnabled(true)))
	m.Handle("POST /console/apps/{id}/dpop", c.action(accounts.RoleAdmin, c.setDPoP))
	m.Handle("POST /console/apps/{id}/secrets", c.action(accounts.RoleAdmin, c.createSecret))
	m.Handle("POST /console/apps/{id}/secrets/rotate", c.action(accounts.RoleAdmin, c.rotateSecret))
	m.Handle("POST /console/apps/{id}/secrets/{sid}/discard", c.action(accounts.RoleAdmin, c.discardSecret))
	m.Handle("POST /console/apps/{id}/secrets/{sid}/reactivate", c.action(accounts.RoleAdmin, c.reactivateSecret))
	m.Handle("GET /console/apps/{id}/secrets/{sid}/delete", c.page(accounts.RoleAdmin, c.deleteSecretPage))
	m.Handle("POST /console/apps/{id}/secrets/{sid}/delete", c.action(accounts.RoleAdmin, c.deleteSecret))

	m.Handle("GET /console/keys", c.page(accounts.RoleViewer, c.keysPage))
	m.Handle("POST /console/keys/rotate", c.action(accounts.RoleAdmin, c.rotateKey))
	m.Handle("POST /console/keys/{kid}/discard", c.action(accounts.RoleAdmin, c.discardKey))
	m.Handle("POST /console/keys/{kid}/reactivate", c.action(accounts.RoleAdmin, c.reactivateKey))
	m.Handle("GET /console/keys/{kid}/delete", c.page(accounts.RoleAdmin, c.deleteKeyPage))
	m.Handle("POST /console/keys/{kid}/delete", c.action(accounts.RoleAdmin, c.deleteKey))

	m.Handle("GET /console/audit", c.page(accounts.RoleViewer, c.auditPage))

	m.Handle("GET /console/token", c.page(accounts.RoleAdmin, c.tokenPage))
	m.Handle("POST /console/token", c.action(accounts.RoleAdmin, c.testToken))

	m.HandleFunc("/console", redirectHome)
	m.HandleFunc("/console/{$}", redirectHome)
	m.HandleFunc("/console/", c.notFound)
	c.mux = m
}

// ServeHTTP serves every console route with the security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

func redirectHome(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/console/apps", http.StatusSeeOther)
}
