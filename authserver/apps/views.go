package apps

import (
	"time"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/storage"
)

// AppView is what the admin API shows of an app: never a secret or digest.
type AppView struct {
	ID                  string   `json:"app_id"`
	ClientID            string   `json:"client_id"`
	Name                string   `json:"name"`
	Environment         string   `json:"environment"`
	Scopes              []string `json:"scopes"`
	Audiences           []string `json:"audiences"`
	Origins             []string `json:"origins"`
	AccessTokenLifetime string   `json:"access_token_lifetime,omitempty"`
	UserTokenLifetime   string   `json:"user_token_lifetime,omitempty"`
	// DPoPBoundAccessTokens and DPoPNonceRequired are the app's DPoP
	// policy (RFC 9449 §5.2, §8; storage.App).
	DPoPBoundAccessTokens bool         `json:"dpop_bound_access_tokens"`
	DPoPNonceRequired     bool         `json:"dpop_nonce_required"`
	Enabled               bool         `json:"enabled"`
	Secrets               []SecretView `json:"secrets"`
	CreatedAt             time.Time    `json:"created_at"`
	UpdatedAt             time.Time    `json:"updated_at"`
}

// Secret statuses as listed: a rotated secret past its grace period is
// "expired" though stored as active.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
	StatusExpired  = "expired"
)

// SecretView is a masked secret: prefix and last four only
// (docs/credentials.md, "Secret keys").
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
		DPoPBoundAccessTokens: a.DPoPBoundAccessTokens, DPoPNonceRequired: a.DPoPNonceRequired,
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

// RotatedSecret is the result of a rotation: the new secret with its
// plaintext (shown once) and the rotated secret with the end of its grace
// period. A replay (Replay set) carries neither the plaintext nor Rotated.
type RotatedSecret struct {
	CreatedSecret
	Rotated *SecretView `json:"rotated,omitempty"`
}
