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

// Apps is the lifecycle of apps and their secrets (docs/credentials.md,
// "Two keys per app", "Rotation without downtime" and "Expiry"). It holds
// the rules; the store only persists what they decide.
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
	// Environment is "live" or "test"; anything else, "" included, is
	// invalid_environment (callers apply their own default).
	Environment string   `json:"environment"`
	Scopes      []string `json:"scopes"`
	Audiences   []string `json:"audiences"`
	Origins     []string `json:"origins"`
	// DPoPBoundAccessTokens issues the app's tokens only to requests with
	// a DPoP proof (RFC 9449 §5.2); DPoPNonceRequired makes its proofs
	// carry a server nonce (§8). See storage.App.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
	DPoPNonceRequired     bool `json:"dpop_nonce_required"`
	// AccessTokenLifetime overrides the default for this app's client
	// credentials tokens; zero keeps the default.
	AccessTokenLifetime time.Duration `json:"-"`
	UserTokenLifetime   time.Duration `json:"-"`
	// IdempotencyKey, if set, makes a retry of the same request return the
	// app created first, masked, instead of creating another.
	IdempotencyKey string `json:"-"`
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
		DPoPBoundAccessTokens: in.DPoPBoundAccessTokens, DPoPNonceRequired: in.DPoPNonceRequired,
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

// RotateSecret is the input of Apps.RotateSecret.
type RotateSecret struct {
	// SecretID is the secret to rotate out; "" means the app's one active
	// secret.
	SecretID string
	// GracePeriod is how long the rotated secret keeps working, 0 to
	// MaxGracePeriod; nil means DefaultGracePeriod. Zero stops it at once.
	GracePeriod *time.Duration
	// IdempotencyKey, if set, makes a retry return the first rotation's
	// new secret, masked, instead of rotating again.
	IdempotencyKey string
}

// updateApp applies rule to app appID through the compare-and-swap
// update, puts the result in this instance's client cache at once (other
// instances apply it within cache.refresh_interval), and audits the
// outcome: a success as one event, a refusal as a counted failure. rule
// may return idempotency.ErrReplay or errNoChange to write nothing; they are returned
// as they are.
func (s *Apps) updateApp(ctx context.Context, actor authserver.Actor, action, appID, target string, rule func(a *storage.App, now time.Time) error) (storage.App, time.Time, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	stored, err := s.store.UpdateApp(ctx, appID, func(a *storage.App) error {
		pruneExpired(a, now)
		if err := rule(a, now); err != nil {
			return err
		}
		a.UpdatedAt = now
		return nil
	})
	if errors.Is(err, idempotency.ErrReplay) || errors.Is(err, errNoChange) {
		return storage.App{}, now, err
	}
	if err != nil {
		err = authserver.StoreError(err)
		s.audit.Fail(actor, action, target, appID, authserver.AsError(err).Code)
		return storage.App{}, now, err
	}
	s.clients.Put(stored)
	return stored, now, nil
}

// secretView returns the view of secret id of a with its last use.
func (s *Apps) secretView(ctx context.Context, a storage.App, id string, now time.Time) SecretView {
	usage, _ := s.store.SecretUsage(ctx, a.ID) // last use is informative only
	for _, sec := range a.Secrets {
		if sec.ID == id {
			return viewSecret(sec, usage[id], now)
		}
	}
	return SecretView{ID: id}
}

// replaySecret answers a repeated create or rotate: secret id of app
// appID, masked, with a Replay notice. Errors: KindConflict
// "idempotency_key_used" if the secret has since been deleted.
func (s *Apps) replaySecret(ctx context.Context, appID, id string) (CreatedSecret, error) {
	a, err := s.store.GetApp(ctx, appID)
	if err != nil {
		return CreatedSecret{}, authserver.StoreError(err)
	}
	if _, err := findSecret(&a, id); err != nil {
		return CreatedSecret{}, authserver.NewError(authserver.KindConflict, "idempotency_key_used",
			"the request with this Idempotency-Key completed earlier; its secret %s no longer exists", id)
	}
	return CreatedSecret{SecretView: s.secretView(ctx, a, id, s.now()), Replay: idempotency.NewReplay()}, nil
}

// ListSecrets returns the app's secrets, masked (prefix and last four),
// with created, expires, last-used times and status. last_used_at lags by
// at most cache.usage_flush_interval (UsageRecorder). Errors:
// KindNotFound, KindUnavailable.
func (s *Apps) ListSecrets(ctx context.Context, appID string) ([]SecretView, error) {
	v, err := s.Get(ctx, appID)
	if err != nil {
		return nil, err
	}
	return v.Secrets, nil
}

// GetSecret returns one secret of the app, masked. Errors: KindNotFound
// ("not_found" for the app, "secret_not_found"), KindUnavailable.
func (s *Apps) GetSecret(ctx context.Context, appID, secretID string) (SecretView, error) {
	v, err := s.Get(ctx, appID)
	if err != nil {
		return SecretView{}, err
	}
	for _, sec := range v.Secrets {
		if sec.ID == secretID {
			return sec, nil
		}
	}
	return SecretView{}, authserver.NewError(authserver.KindNotFound, "secret_not_found", "the app has no secret %q", secretID)
}

// CreateSecret adds an active secret to the app and returns its plaintext,
// shown this once. With idempotencyKey, a retry returns the same secret
// masked with a Replay notice. Errors: KindNotFound, KindConflict
// (too_many_active_secrets, idempotency_key_reused), KindInvalid
// (invalid_idempotency_key), KindUnavailable.
func (s *Apps) CreateSecret(ctx context.Context, actor authserver.Actor, appID, idempotencyKey string) (CreatedSecret, error) {
	const action = "secret.create"
	secID := credential.NewID("sec_")
	claim, err := s.idem.Begin(ctx, actor, idempotencyKey, action, idempotency.Fingerprint(action, appID, nil),
		storage.IdempotencyRecord{AppID: appID, SecretID: secID})
	if err != nil {
		return CreatedSecret{}, err
	}
	if claim != nil {
		secID = claim.IDs().SecretID
	}
	if claim.Done() {
		return s.replaySecret(ctx, appID, secID)
	}
	var plain string
	stored, now, err := s.updateApp(ctx, actor, action, appID, secID, func(a *storage.App, now time.Time) error {
		if _, err := findSecret(a, secID); err == nil {
			return idempotency.ErrReplay
		}
		var sec storage.Secret
		sec, plain = s.newSecret(a, secID, now)
		return ruleCreateSecret(a, sec, now)
	})
	claim.Finish(ctx, err)
	if errors.Is(err, idempotency.ErrReplay) {
		return s.replaySecret(ctx, appID, secID)
	}
	if err != nil {
		return CreatedSecret{}, err
	}
	s.audit.Record(ctx, actor, action, secID, appID, "success", nil)
	return CreatedSecret{SecretView: s.secretView(ctx, stored, secID, now), Secret: plain}, nil
}

// RotateSecret creates a new active secret and gives the one it replaces a
// grace period (DefaultGracePeriod unless req says otherwise) after which
// it stops authenticating, so that clients switch without downtime.
// Errors: KindInvalid (invalid_grace_period, invalid_idempotency_key),
// KindNotFound, KindConflict (too_many_active_secrets, secret_inactive,
// secret_expired, secret_rotating, idempotency_key_reused),
// KindUnavailable.
func (s *Apps) RotateSecret(ctx context.Context, actor authserver.Actor, appID string, req RotateSecret) (RotatedSecret, error) {
	const action = "secret.rotate"
	grace := DefaultGracePeriod
	if req.GracePeriod != nil {
		grace = *req.GracePeriod
	}
	if grace < 0 || grace > MaxGracePeriod {
		return RotatedSecret{}, authserver.NewError(authserver.KindInvalid, "invalid_grace_period", "the grace period must be between 0s and %s", MaxGracePeriod)
	}
	secID := credential.NewID("sec_")
	fp := idempotency.Fingerprint(action, appID, struct {
		SecretID string        `json:"secret_id"`
		Grace    time.Duration `json:"grace"`
	}{req.SecretID, grace})
	claim, err := s.idem.Begin(ctx, actor, req.IdempotencyKey, action, fp, storage.IdempotencyRecord{AppID: appID, SecretID: secID})
	if err != nil {
		return RotatedSecret{}, err
	}
	if claim != nil {
		secID = claim.IDs().SecretID
	}
	replay := func() (RotatedSecret, error) {
		c, err := s.replaySecret(ctx, appID, secID)
		return RotatedSecret{CreatedSecret: c}, err
	}
	if claim.Done() {
		return replay()
	}
	var plain, rotated string
	stored, now, err := s.updateApp(ctx, actor, action, appID, req.SecretID, func(a *storage.App, now time.Time) error {
		if _, err := findSecret(a, secID); err == nil {
			return idempotency.ErrReplay
		}
		var sec storage.Secret
		sec, plain = s.newSecret(a, secID, now)
		var err error
		rotated, err = ruleRotateSecret(a, req.SecretID, sec, grace, now)
		return err
	})
	claim.Finish(ctx, err)
	if errors.Is(err, idempotency.ErrReplay) {
		return replay()
	}
	if err != nil {
		return RotatedSecret{}, err
	}
	old := s.secretView(ctx, stored, rotated, now)
	s.audit.Record(ctx, actor, action, rotated, appID, "success", map[string]string{
		"new_secret_id": secID, "grace_period": grace.String(), "expires_at": now.Add(grace).Format(time.RFC3339),
	})
	return RotatedSecret{
		CreatedSecret: CreatedSecret{SecretView: s.secretView(ctx, stored, secID, now), Secret: plain},
		Rotated:       &old,
	}, nil
}

// DiscardSecret makes a secret inactive: it is refused at once on this
// instance and within cache.refresh_interval on every other, tokens it
// minted become inactive on introspection, and it can be reactivated.
// Errors: KindNotFound, KindConflict (secret_inactive,
// too_many_inactive_secrets, last_active_secret), KindUnavailable.
func (s *Apps) DiscardSecret(ctx context.Context, actor authserver.Actor, appID, secretID string) (SecretView, error) {
	return s.secretTransition(ctx, actor, "secret.discard", appID, secretID, func(a *storage.App, now time.Time) error {
		return ruleDiscardSecret(a, secretID, now)
	})
}

// ReactivateSecret makes an inactive secret authenticate again (with the
// grace period it had, if it was being rotated out). Errors: KindNotFound,
// KindConflict (secret_active, secret_expired, too_many_active_secrets),
// KindUnavailable.
func (s *Apps) ReactivateSecret(ctx context.Context, actor authserver.Actor, appID, secretID string) (SecretView, error) {
	return s.secretTransition(ctx, actor, "secret.reactivate", appID, secretID, func(a *storage.App, now time.Time) error {
		return ruleReactivateSecret(a, secretID, now)
	})
}

// DeleteSecret removes an inactive secret for good; confirm must repeat
// its id. Tokens it minted stay inactive on introspection. Errors:
// KindInvalid (confirmation_required), KindNotFound, KindConflict
// (secret_active), KindUnavailable.
func (s *Apps) DeleteSecret(ctx context.Context, actor authserver.Actor, appID, secretID, confirm string) error {
	_, err := s.secretTransition(ctx, actor, "secret.delete", appID, secretID, func(a *storage.App, _ time.Time) error {
		return ruleDeleteSecret(a, secretID, confirm)
	})
	return err
}

func (s *Apps) secretTransition(ctx context.Context, actor authserver.Actor, action, appID, secretID string, rule func(*storage.App, time.Time) error) (SecretView, error) {
	stored, now, err := s.updateApp(ctx, actor, action, appID, secretID, rule)
	if err != nil {
		return SecretView{}, err
	}
	s.audit.Record(ctx, actor, action, secretID, appID, "success", nil)
	return s.secretView(ctx, stored, secretID, now), nil
}

// AppUpdate is the input of Apps.Update: each non-nil field replaces the
// app's value. The environment and the App ID never change
// (docs/credentials.md, "Two keys per app": the App ID is permanent).
type AppUpdate struct {
	Name      *string
	Scopes    *[]string
	Audiences *[]string
	Origins   *[]string
	// AccessTokenLifetime and UserTokenLifetime: 0 returns to the server
	// default; at most 24h.
	AccessTokenLifetime *time.Duration
	UserTokenLifetime   *time.Duration
	// DPoPBoundAccessTokens and DPoPNonceRequired: the app's DPoP policy
	// (NewApp).
	DPoPBoundAccessTokens *bool
	DPoPNonceRequired     *bool
}

func (u AppUpdate) empty() bool {
	return u.Name == nil && u.Scopes == nil && u.Audiences == nil && u.Origins == nil &&
		u.AccessTokenLifetime == nil && u.UserTokenLifetime == nil &&
		u.DPoPBoundAccessTokens == nil && u.DPoPNonceRequired == nil
}

// errNoChange aborts an update that would change nothing.
var errNoChange = errors.New("no change")

// Update changes an app's name, allowed scopes, audiences, origins,
// token lifetimes or DPoP policy, with the same rules as Create. The change applies to
// new tokens: at once on this instance, within cache.refresh_interval on
// the others. Errors: KindInvalid (empty_update and Create's codes),
// KindNotFound, KindUnavailable.
func (s *Apps) Update(ctx context.Context, actor authserver.Actor, id string, u AppUpdate) (AppView, error) {
	const action = "app.update"
	if u.empty() {
		return AppView{}, authserver.NewError(authserver.KindInvalid, "empty_update", "the update changes nothing: give at least one field")
	}
	var fields []string
	stored, now, err := s.updateApp(ctx, actor, action, id, id, func(a *storage.App, _ time.Time) error {
		in := NewApp{
			Name: a.Name, Environment: a.Environment, Scopes: a.Scopes, Audiences: a.Audiences, Origins: a.Origins,
			AccessTokenLifetime: a.AccessTokenLifetime, UserTokenLifetime: a.UserTokenLifetime,
			DPoPBoundAccessTokens: a.DPoPBoundAccessTokens, DPoPNonceRequired: a.DPoPNonceRequired,
		}
		fields = fields[:0]
		if u.Name != nil {
			in.Name, fields = *u.Name, append(fields, "name")
		}
		if u.Scopes != nil {
			in.Scopes, fields = *u.Scopes, append(fields, "scopes")
		}
		if u.Audiences != nil {
			in.Audiences, fields = *u.Audiences, append(fields, "audiences")
		}
		if u.Origins != nil {
			in.Origins, fields = *u.Origins, append(fields, "origins")
		}
		if u.AccessTokenLifetime != nil {
			in.AccessTokenLifetime, fields = *u.AccessTokenLifetime, append(fields, "access_token_lifetime")
		}
		if u.UserTokenLifetime != nil {
			in.UserTokenLifetime, fields = *u.UserTokenLifetime, append(fields, "user_token_lifetime")
		}
		if u.DPoPBoundAccessTokens != nil {
			in.DPoPBoundAccessTokens, fields = *u.DPoPBoundAccessTokens, append(fields, "dpop_bound_access_tokens")
		}
		if u.DPoPNonceRequired != nil {
			in.DPoPNonceRequired, fields = *u.DPoPNonceRequired, append(fields, "dpop_nonce_required")
		}
		if err := validateNewApp(&in); err != nil {
			return err
		}
		a.Name, a.Scopes, a.Audiences, a.Origins = in.Name, nonNil(in.Scopes), nonNil(in.Audiences), in.Origins
		a.AccessTokenLifetime, a.UserTokenLifetime = in.AccessTokenLifetime, in.UserTokenLifetime
		a.DPoPBoundAccessTokens, a.DPoPNonceRequired = in.DPoPBoundAccessTokens, in.DPoPNonceRequired
		return nil
	})
	if err != nil {
		return AppView{}, err
	}
	s.audit.Record(ctx, actor, action, id, id, "success", map[string]string{"fields": strings.Join(fields, ",")})
	return s.view(ctx, stored, now), nil
}

// SetEnabled disables or enables an app. A disabled app's secrets all
// fail with invalid_client (at once on this instance, within
// cache.refresh_interval on the others) and its tokens are inactive on
// introspection (clients.Cache.CredentialActive); enabling it restores both.
// Setting the state it already has writes nothing. Errors: KindNotFound,
// KindUnavailable.
func (s *Apps) SetEnabled(ctx context.Context, actor authserver.Actor, id string, enabled bool) (AppView, error) {
	action := "app.disable"
	if enabled {
		action = "app.enable"
	}
	stored, now, err := s.updateApp(ctx, actor, action, id, id, func(a *storage.App, _ time.Time) error {
		if a.Enabled == enabled {
			return errNoChange
		}
		a.Enabled = enabled
		return nil
	})
	if errors.Is(err, errNoChange) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return AppView{}, err
	}
	s.audit.Record(ctx, actor, action, id, id, "success", nil)
	return s.view(ctx, stored, now), nil
}

func (s *Apps) view(ctx context.Context, a storage.App, now time.Time) AppView {
	usage, _ := s.store.SecretUsage(ctx, a.ID) // last use is informative only
	return viewApp(a, usage, now)
}
