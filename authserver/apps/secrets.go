package apps

import (
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/storage"
)

// Secret lifecycle limits (docs/credentials.md, "Rotation without
// downtime" and "Expiry").
const (
	// MaxActiveSecrets is how many secrets of an app may authenticate at
	// once: the current one and the one replacing it.
	MaxActiveSecrets = 2
	// MaxInactiveSecrets is how many discarded secrets an app may keep.
	MaxInactiveSecrets = 1
	// DefaultGracePeriod is how long a rotated secret keeps working after
	// the rotation, unless the rotation names another period.
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
