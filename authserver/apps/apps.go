package apps

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/storage"
)

// Store is what the app lifecycle needs of the database.
type Store interface {
	InsertApp(ctx context.Context, a storage.App) error
	GetApp(ctx context.Context, id string) (storage.App, error)
	ListApps(ctx context.Context, f storage.AppFilter) ([]storage.App, error)
	UpdateApp(ctx context.Context, id string, update func(*storage.App) error) (storage.App, error)
	SecretUsage(ctx context.Context, appID string) (map[string]time.Time, error)
}

// Apps is the lifecycle of apps and their secrets (seeds 000 and 003). It
// holds the rules; the store only persists what they decide.
type Apps struct {
	store   Store
	clients *clients.Cache
	audit   *audit.Auditor
	keyring *kek.Keyring
	idem    *idempotency.Idempotency
	now     func() time.Time
}

// NewApps returns the app lifecycle service. Creates honour idempotency
// keys through idem.
func NewApps(store Store, clients *clients.Cache, audit *audit.Auditor, keyring *kek.Keyring, idem *idempotency.Idempotency, now func() time.Time) *Apps {
	return &Apps{store: store, clients: clients, audit: audit, keyring: keyring, idem: idem, now: now}
}

// NewApp is the input of Create.
type NewApp struct {
	Name string `json:"name"`
	// Environment is "live" or "test" (default "live").
	Environment string   `json:"environment"`
	Scopes      []string `json:"scopes"`
	Audiences   []string `json:"audiences"`
	Origins     []string `json:"origins"`
	// AccessTokenLifetime overrides the default for this app's client
	// credentials tokens; zero keeps the default.
	AccessTokenLifetime time.Duration `json:"-"`
	UserTokenLifetime   time.Duration `json:"-"`
	// IdempotencyKey, if set, makes a retry of the same request return the
	// app created first, masked, instead of creating another.
	IdempotencyKey string `json:"-"`
}

// AppView is what the admin API shows of an app: never a secret or digest.
type AppView struct {
	ID                  string       `json:"app_id"`
	ClientID            string       `json:"client_id"`
	Name                string       `json:"name"`
	Environment         string       `json:"environment"`
	Scopes              []string     `json:"scopes"`
	Audiences           []string     `json:"audiences"`
	Origins             []string     `json:"origins"`
	AccessTokenLifetime string       `json:"access_token_lifetime,omitempty"`
	UserTokenLifetime   string       `json:"user_token_lifetime,omitempty"`
	Enabled             bool         `json:"enabled"`
	Secrets             []SecretView `json:"secrets"`
	CreatedAt           time.Time    `json:"created_at"`
	UpdatedAt           time.Time    `json:"updated_at"`
}

// Secret statuses as listed: a rotated secret past its grace period is
// "expired" though stored as active.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
	StatusExpired  = "expired"
)

// SecretView is a masked secret: prefix and last four only (seed 002, 003).
// Status is active (ExpiresAt set while it is being rotated out), expired
// (rotated, grace period over) or inactive (discarded). LastUsedAt is when
// it last authenticated a client, kept in memory and written in batches:
// it lags by at most cache.usage_flush_interval (default 30s).
type SecretView struct {
	ID         string     `json:"secret_id"`
	Masked     string     `json:"masked"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// CreatedSecret is a new secret with its plaintext, returned exactly once.
// In the answer to a repeated request (same Idempotency-Key) Secret is
// empty and Replay says why.
type CreatedSecret struct {
	SecretView
	Secret string              `json:"client_secret,omitempty"`
	Replay *idempotency.Replay `json:"replay,omitempty"`
}

// CreatedApp is the result of Create: the app and its first secret, whose
// plaintext is returned exactly once (empty, with Replay set, when the
// request repeated an earlier one).
type CreatedApp struct {
	AppView
	ClientSecret string              `json:"client_secret,omitempty"`
	SecretID     string              `json:"secret_id"`
	Replay       *idempotency.Replay `json:"replay,omitempty"`
}

func viewSecret(s storage.Secret, lastUsed time.Time, now time.Time) SecretView {
	v := SecretView{ID: s.ID, Masked: credential.Mask(s.Prefix, s.Last4), Status: s.Status, CreatedAt: s.CreatedAt}
	if !s.ExpiresAt.IsZero() {
		t := s.ExpiresAt
		v.ExpiresAt = &t
		if s.Status == storage.SecretActive && !now.Before(t) {
			v.Status = StatusExpired
		}
	}
	if !lastUsed.IsZero() {
		v.LastUsedAt = &lastUsed
	}
	return v
}

func viewApp(a storage.App, usage map[string]time.Time, now time.Time) AppView {
	v := AppView{
		ID: a.ID, ClientID: a.ID, Name: a.Name, Environment: a.Environment,
		Scopes: nonNil(a.Scopes), Audiences: nonNil(a.Audiences), Origins: nonNil(a.Origins),
		Enabled: a.Enabled, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		Secrets: make([]SecretView, 0, len(a.Secrets)),
	}
	if a.AccessTokenLifetime > 0 {
		v.AccessTokenLifetime = a.AccessTokenLifetime.String()
	}
	if a.UserTokenLifetime > 0 {
		v.UserTokenLifetime = a.UserTokenLifetime.String()
	}
	for _, s := range a.Secrets {
		v.Secrets = append(v.Secrets, viewSecret(s, usage[s.ID], now))
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// newSecret makes the record of secret id for app and returns it with
// its plaintext. Apps that sign assertions with their secrets keep it
// sealed too.
func (s *Apps) newSecret(app *storage.App, id string, now time.Time) (storage.Secret, string) {
	plain := credential.NewSecret(app.Environment)
	prefix, last4 := credential.MaskParts(plain)
	d := credential.Digest(plain)
	sec := storage.Secret{
		ID: id, Digest: d[:], Prefix: prefix, Last4: last4,
		Status: storage.SecretActive, CreatedAt: now,
	}
	if app.SecretSigning {
		sealed := s.keyring.Seal([]byte(plain), []byte(app.ID+"/"+sec.ID))
		sec.Sealed = &sealed
	}
	return sec, plain
}

// validateNewApp checks the input of Create and fills defaults.
func validateNewApp(in *NewApp) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 200 || !utf8.ValidString(in.Name) {
		return authserver.NewError(authserver.KindInvalid, "invalid_name", "name must be 1 to 200 characters")
	}
	if in.Environment == "" {
		in.Environment = credential.EnvLive
	}
	if in.Environment != credential.EnvLive && in.Environment != credential.EnvTest {
		return authserver.NewError(authserver.KindInvalid, "invalid_environment", "environment must be %q or %q", credential.EnvLive, credential.EnvTest)
	}
	for _, sc := range in.Scopes {
		if !clients.ValidScope(sc) {
			return authserver.NewError(authserver.KindInvalid, "invalid_scope", "scope %q is not a valid scope token (RFC 6749 §3.3)", sc)
		}
	}
	for _, a := range in.Audiences {
		if a == "" || len(a) > 512 || strings.ContainsAny(a, " \t\r\n") || !utf8.ValidString(a) {
			return authserver.NewError(authserver.KindInvalid, "invalid_audience", "audience %q must be a non-empty string without spaces, at most 512 bytes", a)
		}
	}
	for _, o := range in.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return authserver.NewError(authserver.KindInvalid, "invalid_origin", "origin %q must be scheme://host[:port]", o)
		}
	}
	if in.AccessTokenLifetime < 0 || in.AccessTokenLifetime > 24*time.Hour || in.UserTokenLifetime < 0 || in.UserTokenLifetime > 24*time.Hour {
		return authserver.NewError(authserver.KindInvalid, "invalid_lifetime", "token lifetimes must be between 0 (server default) and 24h")
	}
	return nil
}

// Create registers an app with one active secret and returns the secret's
// plaintext, which is never available again. With in.IdempotencyKey, a
// retry returns the app created first, masked, with a Replay notice.
// Errors: KindInvalid, KindConflict (idempotency_key_reused),
// KindUnavailable.
func (s *Apps) Create(ctx context.Context, actor authserver.Actor, in NewApp) (CreatedApp, error) {
	const action = "app.create"
	if err := validateNewApp(&in); err != nil {
		return CreatedApp{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	appID, secID := credential.NewAppID(in.Environment), credential.NewID("sec_")
	claim, err := s.idem.Begin(ctx, actor, in.IdempotencyKey, action, idempotency.Fingerprint(action, "", struct {
		NewApp
		AT, UT time.Duration
	}{in, in.AccessTokenLifetime, in.UserTokenLifetime}), storage.IdempotencyRecord{AppID: appID, SecretID: secID})
	if err != nil {
		return CreatedApp{}, err
	}
	if claim != nil {
		appID, secID = claim.IDs().AppID, claim.IDs().SecretID
	}
	if claim.Done() {
		return s.replayApp(ctx, appID, secID)
	}
	app := storage.App{
		ID: appID, Name: in.Name, Environment: in.Environment,
		Scopes: nonNil(in.Scopes), Audiences: nonNil(in.Audiences), Origins: in.Origins,
		AccessTokenLifetime: in.AccessTokenLifetime, UserTokenLifetime: in.UserTokenLifetime,
		Enabled: true, CreatedAt: now,
	}
	sec, plain := s.newSecret(&app, secID, now)
	app.Secrets = []storage.Secret{sec}
	err = s.store.InsertApp(ctx, app)
	if claim != nil && errors.Is(err, storage.ErrDuplicate) {
		// An earlier run of this request created it.
		claim.Finish(ctx, nil)
		return s.replayApp(ctx, appID, secID)
	}
	claim.Finish(ctx, err)
	if err != nil {
		return CreatedApp{}, authserver.StoreError(err)
	}
	s.audit.Record(ctx, actor, action, app.ID, app.ID, "success", map[string]string{"secret_id": sec.ID})
	if stored, err := s.store.GetApp(ctx, app.ID); err == nil {
		app = stored
		s.clients.Put(stored)
	}
	return CreatedApp{AppView: viewApp(app, nil, now), ClientSecret: plain, SecretID: sec.ID}, nil
}

// replayApp answers a repeated Create: the app, masked, with a Replay
// notice.
func (s *Apps) replayApp(ctx context.Context, appID, secID string) (CreatedApp, error) {
	v, err := s.Get(ctx, appID)
	if err != nil {
		if e := authserver.AsError(err); e != nil && e.Kind == authserver.KindNotFound {
			return CreatedApp{}, authserver.NewError(authserver.KindConflict, "idempotency_key_used",
				"the request with this Idempotency-Key completed earlier; its app no longer exists")
		}
		return CreatedApp{}, err
	}
	return CreatedApp{AppView: v, SecretID: secID, Replay: idempotency.NewReplay()}, nil
}

// Get returns an app with its masked secrets and their last use.
// Errors: KindNotFound, KindUnavailable.
func (s *Apps) Get(ctx context.Context, id string) (AppView, error) {
	a, err := s.store.GetApp(ctx, id)
	if err != nil {
		return AppView{}, authserver.StoreError(err)
	}
	usage, err := s.store.SecretUsage(ctx, id)
	if err != nil {
		return AppView{}, authserver.StoreError(err)
	}
	return viewApp(a, usage, s.now()), nil
}

// List returns apps ordered by id after page.After, at most page.Limit
// (1 to 500, default 100), optionally only those whose name starts with
// namePrefix. next is the cursor of the following page, "" at the end.
func (s *Apps) List(ctx context.Context, namePrefix string, page storage.Page) (apps []AppView, next string, err error) {
	if page.Limit <= 0 || page.Limit > 500 {
		page.Limit = 100
	}
	rows, err := s.store.ListApps(ctx, storage.AppFilter{NamePrefix: namePrefix, Page: storage.Page{After: page.After, Limit: page.Limit + 1}})
	if err != nil {
		return nil, "", authserver.StoreError(err)
	}
	if len(rows) > page.Limit {
		rows = rows[:page.Limit]
		next = rows[len(rows)-1].ID
	}
	now := s.now()
	apps = make([]AppView, 0, len(rows))
	for _, a := range rows {
		apps = append(apps, viewApp(a, nil, now))
	}
	return apps, next, nil
}
