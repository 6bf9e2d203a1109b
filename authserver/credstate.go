package authserver

import (
	"context"
	"errors"

	"github.com/authserver/authserver/storage"
)

// CredentialActive reports whether a token minted for app appID by secret
// secretID (its client_id and secret_id claims) is still backed by its
// credential, for introspection (RFC 7662 §2.2 "active") and manual expiry
// (seed 000: deleting a key invalidates every token minted with it). It is
// false when the app is unknown or disabled, or when secretID names a
// secret that is discarded or deleted. A secret whose rotation grace period
// has ended still backs the tokens it minted before: they end at their own
// exp. secretID "" (a token not minted with a secret) checks the app only.
//
// It answers from the client cache: a change made on this instance applies
// at once, one made on another within cache.refresh_interval. Errors:
// ErrStoreUnavailable when the app is not cached and the database cannot
// answer.
func (c *ClientCache) CredentialActive(ctx context.Context, appID, secretID string) (bool, error) {
	if appID == "" || len(appID) > maxClientIDLen || envOfAppID(appID) == "" {
		return false, nil
	}
	e, err := c.get(ctx, appID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case !e.app.Enabled:
		return false, nil
	case secretID == "":
		return true, nil
	}
	for i := range e.secrets {
		if e.secrets[i].id == secretID {
			return e.secrets[i].active, nil
		}
	}
	return false, nil
}
