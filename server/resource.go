package server

import (
	"context"
	"errors"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/verifier"
)

// resourceDPoP is how /getprofile checks DPoP-bound tokens (RFC 9449 §7;
// docs/architecture.md, "End-user tokens"), with what the token endpoints
// share (initDPoP): the algorithms and window of dpop, the replay cache
// (a proof's record is keyed by its key, htu and jti, so the endpoints
// never clash; with the database cache a proof used at one instance is
// refused at every other), and the same nonces, required when
// the token's app requires nonces (dpop_nonce_required). A proof's htu is
// the issuer's public URL followed by the path, as RFC 8414 metadata
// names every endpoint, whatever Host a proxy sends.
func (s *Server) resourceDPoP() verifier.DPoPConfig {
	return verifier.DPoPConfig{
		BaseURL:    s.cfg.Issuer,
		Algorithms: s.DPoP.Algorithms,
		Window:     s.DPoP.Window,
		Replay:     s.DPoP.Replay,
		Nonces:     s.DPoP.Nonces,
		RequireNonce: func(ctx context.Context, c *verifier.Claims) bool {
			app, err := s.Clients.Get(ctx, c.ClientID)
			if err != nil {
				// An app deleted since: /getprofile refuses its token
				// anyway. Any other failure (the store out of reach)
				// requires a nonce: it costs a client one retry, where
				// none would let a proof signed ahead of time through
				// for an app that requires nonces.
				return !errors.Is(err, storage.ErrNotFound)
			}
			return app.App().DPoPNonceRequired
		},
	}
}
