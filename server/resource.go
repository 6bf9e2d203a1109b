package server

import (
	"github.com/authserver/authserver/verifier"
	"github.com/authserver/authserver/verifier/dpop"
)

// resourceDPoP is how /getprofile checks DPoP-bound tokens (RFC 9449 §7;
// docs/architecture.md, "End-user tokens"): a proof's htu is the issuer's
// public URL followed by the path, as RFC 8414 metadata names every
// endpoint, whatever Host a proxy sends; proofs are remembered in this
// process's memory, so a proof replayed to another instance within the
// proof window (60 s either way) passes there.
func (s *Server) resourceDPoP() verifier.DPoPConfig {
	return verifier.DPoPConfig{
		BaseURL: s.cfg.Issuer,
		Replay:  dpop.NewMemoryReplayCache(0, s.now),
	}
}
