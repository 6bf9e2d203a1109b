package clients

import (
	"context"
	"errors"
	"slices"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/storage"
)

// CredentialActive reports whether a token minted for app appID (its
// client_id claim) is still backed by its credentials, for introspection
// (RFC 7662 §2.2 "active") and manual expiry (seed 000: deleting a key
// invalidates every token minted with it). It is false when the app is
// unknown or disabled, when secretID (the secret_id claim) names a secret
// that is discarded or deleted, or when assertionKey (the assertion_key
// claim, an RFC 7638 thumbprint) names a key the app no longer registers.
// A secret whose rotation grace period has ended still backs the tokens it
// minted before: they end at their own exp. Empty secretID and
// assertionKey (a token minted with neither) check the app only.
//
// An assertion key is looked for in the app's inline JWKS. While the app
// publishes its keys at a jwks_uri instead, any recorded key backs its
// tokens: this check answers from memory and never fetches, and a key
// that leaves a published set is routine rotation, not a revocation;
// removing the jwks_uri, or replacing it with an inline set without the
// key, is (docs/architecture.md, "Tokens").
//
// It answers from the client cache: a change made on this instance applies
// at once, one made on another within cache.refresh_interval. Errors:
// ErrStoreUnavailable when the app is not cached and the database cannot
// answer.
func (c *Cache) CredentialActive(ctx context.Context, appID, secretID, assertionKey string) (bool, error) {
	if appID == "" || len(appID) > credential.MaxAppIDLen || credential.EnvOf(appID) == "" {
		return false, nil
	}
	e, err := c.Get(ctx, appID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case !e.app.Enabled:
		return false, nil
	}
	return e.secretBacks(secretID) && e.keyBacks(assertionKey), nil
}

// secretBacks reports whether the secret id (or none) still backs tokens.
func (e *CachedApp) secretBacks(id string) bool {
	if id == "" {
		return true
	}
	for i := range e.secrets {
		if e.secrets[i].id == id {
			return e.secrets[i].active
		}
	}
	return false
}

// keyBacks reports whether the assertion key thumbprint (or none) still
// backs tokens; see CredentialActive.
func (e *CachedApp) keyBacks(thumbprint string) bool {
	switch {
	case thumbprint == "":
		return true
	case len(e.app.JWKS) > 0:
		return slices.Contains(e.thumbprints, thumbprint)
	default:
		return e.app.JWKSURI != ""
	}
}
