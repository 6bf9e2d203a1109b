package apps

import (
	"context"
	"errors"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/storage"
)

// Secret lifecycle limits (seeds 000, 002, 003; DESIGN.md "Rotation
// without downtime").
const (
	// MaxActiveSecrets is how many secrets of an app may authenticate at
	// once: the current one and the one replacing it.
	MaxActiveSecrets = 2
	// MaxInactiveSecrets is how many discarded secrets an app may keep.
	MaxInactiveSecrets = 1
	// DefaultGracePeriod is how long a rotated secret keeps working after
	// the rotation, unless the rotation names another period (seed 003:
	// "The previous key remains valid for 24 hours").
	DefaultGracePeriod = 24 * time.Hour
	// MaxGracePeriod bounds the grace period of one rotation.
	MaxGracePeriod = 30 * 24 * time.Hour
	// expiredRetention is how long a secret whose grace period has ended
	// stays listed (status "expired") before the next write to its app
	// drops it: the longest token lifetime, so that every token it minted
	// has expired by then and introspection never loses track of one.
	expiredRetention = 24 * time.Hour
)

// The secret lifecycle, as rules over the app document. Each rule either
// changes the app in place or returns a *Error and must leave the app
// untouched; Store.UpdateApp writes the result only if nobody changed the
// app since it was read. In words:
//
//	state      stored as                         authenticates
//	active     status active, no expires_at      yes
//	rotating   status active, expires_at > now   yes, until expires_at
//	expired    status active, expires_at <= now  no
//	inactive   status inactive (discarded)       no
//
//	create      new active secret; at most MaxActiveSecrets active or rotating
//	rotate      new active secret, the current one becomes rotating
//	discard     active, rotating or expired -> inactive; at most
//	            MaxInactiveSecrets inactive; an active one (no expiry) remains
//	reactivate  inactive -> what it was (active, or rotating until the same
//	            expires_at); not past its expiry; the active limit holds
//	delete      inactive only, with the secret id as confirmation

// secretLive reports whether s authenticates at now.
func secretLive(s *storage.Secret, now time.Time) bool {
	return s.Status == storage.SecretActive && (s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt))
}

// secretExpired reports whether s is a rotated secret past its grace
// period.
func secretExpired(s *storage.Secret, now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

// countSecrets returns how many secrets of a are live, live without an
// expiry (permanent), and inactive.
func countSecrets(a *storage.App, now time.Time) (live, permanent, inactive int) {
	for i := range a.Secrets {
		s := &a.Secrets[i]
		switch {
		case s.Status == storage.SecretInactive:
			inactive++
		case secretLive(s, now):
			live++
			if s.ExpiresAt.IsZero() {
				permanent++
			}
		}
	}
	return live, permanent, inactive
}

// findSecret returns the index of secret id in a. Errors: KindNotFound.
func findSecret(a *storage.App, id string) (int, error) {
	for i := range a.Secrets {
		if a.Secrets[i].ID == id {
			return i, nil
		}
	}
	return -1, authserver.NewError(authserver.KindNotFound, "secret_not_found", "the app has no secret %q", id)
}

// pruneExpired drops secrets whose grace period ended more than
// expiredRetention ago.
func pruneExpired(a *storage.App, now time.Time) {
	kept := a.Secrets[:0:0]
	for _, s := range a.Secrets {
		if s.Status == storage.SecretActive && !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt.Add(expiredRetention)) {
			continue
		}
		kept = append(kept, s)
	}
	a.Secrets = kept
}

func errTooManyActive() error {
	return authserver.NewError(authserver.KindConflict, "too_many_active_secrets",
		"the app has %d active secrets already: discard one, or wait until a rotated one expires", MaxActiveSecrets)
}

// ruleCreateSecret adds sec (active, no expiry). Errors:
// too_many_active_secrets.
func ruleCreateSecret(a *storage.App, sec storage.Secret, now time.Time) error {
	if live, _, _ := countSecrets(a, now); live >= MaxActiveSecrets {
		return errTooManyActive()
	}
	a.Secrets = append(a.Secrets, sec)
	return nil
}

// ruleRotateSecret adds sec and gives the secret being replaced, target or
// (when "") the app's one active secret, a grace period ending at
// now+grace. It returns the replaced secret's id. Errors:
// too_many_active_secrets, secret_not_found, secret_inactive,
// secret_expired, secret_rotating.
func ruleRotateSecret(a *storage.App, target string, sec storage.Secret, grace time.Duration, now time.Time) (string, error) {
	live, _, _ := countSecrets(a, now)
	if live >= MaxActiveSecrets {
		return "", errTooManyActive()
	}
	i := -1
	if target == "" {
		for j := range a.Secrets {
			if secretLive(&a.Secrets[j], now) {
				i = j
			}
		}
		if i < 0 {
			return "", authserver.NewError(authserver.KindConflict, "no_active_secret", "the app has no active secret to rotate; create one")
		}
	} else {
		var err error
		if i, err = findSecret(a, target); err != nil {
			return "", err
		}
	}
	old := &a.Secrets[i]
	switch {
	case old.Status == storage.SecretInactive:
		return "", authserver.NewError(authserver.KindConflict, "secret_inactive", "secret %s is inactive: reactivate it, or create a secret", old.ID)
	case secretExpired(old, now):
		return "", authserver.NewError(authserver.KindConflict, "secret_expired", "secret %s has expired", old.ID)
	case !old.ExpiresAt.IsZero():
		return "", authserver.NewError(authserver.KindConflict, "secret_rotating", "secret %s is already being rotated out", old.ID)
	}
	old.ExpiresAt = now.Add(grace)
	a.Secrets = append(a.Secrets, sec)
	return old.ID, nil
}

// ruleDiscardSecret makes secret id inactive: it stops authenticating at
// once. Errors: secret_not_found, secret_inactive,
// too_many_inactive_secrets, last_active_secret.
func ruleDiscardSecret(a *storage.App, id string, now time.Time) error {
	i, err := findSecret(a, id)
	if err != nil {
		return err
	}
	s := &a.Secrets[i]
	if s.Status == storage.SecretInactive {
		return authserver.NewError(authserver.KindConflict, "secret_inactive", "secret %s is inactive already", id)
	}
	if _, _, inactive := countSecrets(a, now); inactive >= MaxInactiveSecrets {
		return authserver.NewError(authserver.KindConflict, "too_many_inactive_secrets",
			"the app has an inactive secret already: delete or reactivate it first (at most %d inactive)", MaxInactiveSecrets)
	}
	if _, permanent, _ := countSecrets(a, now); s.ExpiresAt.IsZero() && permanent <= 1 {
		return authserver.NewError(authserver.KindConflict, "last_active_secret",
			"secret %s is the app's last active secret: create or rotate a new one first", id)
	}
	s.Status, s.DiscardedAt = storage.SecretInactive, now
	return nil
}

// ruleReactivateSecret makes inactive secret id authenticate again, with
// the expiry it had. Errors: secret_not_found, secret_active,
// secret_expired, too_many_active_secrets.
func ruleReactivateSecret(a *storage.App, id string, now time.Time) error {
	i, err := findSecret(a, id)
	if err != nil {
		return err
	}
	s := &a.Secrets[i]
	switch {
	case s.Status != storage.SecretInactive:
		return authserver.NewError(authserver.KindConflict, "secret_active", "secret %s is not inactive", id)
	case secretExpired(s, now):
		return authserver.NewError(authserver.KindConflict, "secret_expired", "secret %s was rotated and its grace period has ended; it cannot be reactivated", id)
	}
	if live, _, _ := countSecrets(a, now); live >= MaxActiveSecrets {
		return errTooManyActive()
	}
	s.Status, s.DiscardedAt = storage.SecretActive, time.Time{}
	return nil
}

// ruleDeleteSecret removes inactive secret id for good, when confirm
// repeats its id. Errors: confirmation_required (KindInvalid),
// secret_not_found, secret_active.
func ruleDeleteSecret(a *storage.App, id, confirm string) error {
	if confirm != id {
		return authserver.NewError(authserver.KindInvalid, "confirmation_required",
			"deleting a secret cannot be undone: confirm by repeating its id (confirm=%s)", id)
	}
	i, err := findSecret(a, id)
	if err != nil {
		return err
	}
	if a.Secrets[i].Status != storage.SecretInactive {
		return authserver.NewError(authserver.KindConflict, "secret_active", "only an inactive secret can be deleted: discard %s first", id)
	}
	a.Secrets = append(a.Secrets[:i:i], a.Secrets[i+1:]...)
	return nil
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

// RotatedSecret is the result of a rotation: the new secret with its
// plaintext (shown once) and the rotated secret with the end of its grace
// period. A replay (Replay set) carries neither the plaintext nor Rotated.
type RotatedSecret struct {
	CreatedSecret
	Rotated *SecretView `json:"rotated,omitempty"`
}

// updateApp applies rule to app appID through the compare-and-swap
// update, puts the result in this instance's client cache at once (other
// instances apply it within cache.refresh_interval), and audits the
// outcome: a success as one event, a refusal as a counted failure. rule
// may return errReplay or errNoChange to write nothing; they are returned
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
