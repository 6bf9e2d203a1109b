package server

import (
	"fmt"
	"time"

	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/verifier/dpop"
)

// DPoPConfig governs DPoP proofs (RFC 9449) at the token endpoint and
// /customer_authenticate, and at the resources of this server.
type DPoPConfig struct {
	// Replay is where accepted proofs are remembered, so that each is
	// accepted once (RFC 9449 §11.1): "memory" (this instance only, no
	// database write), "database" (every instance sharing the database:
	// one insert per bound token issued), or "auto": database when
	// instances can share the database (mongodb.uri or
	// mongodb.embedded_addr is set), memory otherwise.
	Replay string `koanf:"replay"`
	// Window is how far a proof's iat may be from the server's clock,
	// either way (RFC 9449 §11.1): at most 5m.
	Window time.Duration `koanf:"window"`
	// Algorithms are the alg values proofs may use
	// (dpop_signing_alg_values_supported, RFC 9449 §5.1), among ES256,
	// EdDSA, Ed25519, RS256 and PS256.
	Algorithms []string `koanf:"algorithms"`
	// NoncePeriod is how often server nonces change (RFC 9449 §8): a
	// nonce is accepted for one to two periods after it is issued.
	NoncePeriod time.Duration `koanf:"nonce_period"`
}

// Values of DPoPConfig.Replay.
const (
	dpopReplayAuto     = "auto"
	dpopReplayMemory   = "memory"
	dpopReplayDatabase = "database"
)

// nonceInfo is the purpose of the key derived from the KEK for the server
// nonces of this origin (verifier/dpop, NewNonceSource).
const nonceInfo = "authserver dpop nonce v1: token endpoint"

func defaultDPoPConfig() DPoPConfig {
	return DPoPConfig{
		Replay: dpopReplayAuto, Window: time.Minute, NoncePeriod: 5 * time.Minute,
		Algorithms: []string{"ES256", "EdDSA", "Ed25519", "RS256", "PS256"},
	}
}

// validateDPoP reports the problems of the dpop section, with the bounds
// verifier/dpop itself enforces.
func (c *Config) validateDPoP(bad func(format string, args ...any)) {
	d := c.DPoP
	switch d.Replay {
	case dpopReplayAuto, dpopReplayMemory, dpopReplayDatabase:
	default:
		bad("dpop.replay %q must be auto, memory or database", d.Replay)
	}
	if d.Window <= 0 {
		bad("dpop.window must be a positive duration")
	} else if _, err := dpop.New(dpop.Config{Algorithms: d.Algorithms, Window: d.Window, Replay: dpop.NewMemoryReplayCache(1, nil)}); err != nil {
		bad("dpop.window or dpop.algorithms: %v", err)
	}
	if len(d.Algorithms) == 0 {
		bad("dpop.algorithms must name at least one algorithm")
	}
	if _, err := dpop.NewNonceSource(make([]byte, 32), d.NoncePeriod, nil); err != nil {
		bad("dpop.nonce_period: %v", err)
	}
}

// replayInDatabase reports whether proofs are remembered in the database.
func (c *Config) replayInDatabase() bool {
	switch c.DPoP.Replay {
	case dpopReplayDatabase:
		return true
	case dpopReplayMemory:
		return false
	}
	return c.MongoDB.URI != "" || c.MongoDB.EmbeddedAddr != ""
}

// DPoP is what every endpoint of this server that checks DPoP proofs
// (RFC 9449) shares: the token endpoint and /customer_authenticate, which
// bind the tokens they issue, and the resources of this server
// (/getprofile), which take bound tokens. Build a resource's verifier
// with dpop.New(dpop.Config{Algorithms: Algorithms, Window: Window,
// Replay: Replay, Nonces: Nonces, Now: the server's clock}).
type DPoP struct {
	// Replay remembers accepted proofs (dpop.replay): a
	// dpop.MemoryReplayCache, or a tokens.StoreReplayCache shared with
	// every instance. A proof's record is keyed by its key, htu and jti,
	// so endpoints share it without clashing.
	Replay dpop.ReplayCache
	// Nonces are the server nonces (RFC 9449 §8, §9) of every endpoint
	// of this origin: the token endpoint, /customer_authenticate and
	// /getprofile. One source, because clients keep one nonce per origin
	// (openid-client and oauth4webapi do): a source per endpoint would
	// cost a use_dpop_nonce round trip at every switch between them. It
	// is stateless, under a key derived from the KEK
	// (kek.Keyring.Derive), so instances that share the KEK accept each
	// other's nonces.
	Nonces *dpop.NonceSource
	// Algorithms and Window are dpop.algorithms and dpop.window.
	Algorithms []string
	Window     time.Duration

	// store is the database replay cache, whose sweep runs with the
	// server's loops; nil in memory.
	store *tokens.StoreReplayCache
}

// initDPoP builds the replay cache and the nonce sources.
func (s *Server) initDPoP() error {
	cfg := s.cfg.DPoP
	d := DPoP{Algorithms: cfg.Algorithms, Window: cfg.Window}
	var err error
	if d.Nonces, err = dpop.NewNonceSource(s.keyring.Derive(nonceInfo), cfg.NoncePeriod, s.now); err != nil {
		return fmt.Errorf("dpop nonces: %w", err)
	}
	where := dpopReplayMemory
	if s.cfg.replayInDatabase() {
		// A record lives until the proof's iat plus the window, at most
		// two windows from now: sweeping once a window keeps the
		// collection at about three windows of proofs.
		d.store = tokens.NewStoreReplayCache(s.store, cfg.Window, s.now, s.log)
		d.Replay, where = d.store, dpopReplayDatabase
	} else {
		d.Replay = dpop.NewMemoryReplayCache(0, s.now)
	}
	s.log.Info("dpop proofs are remembered", "in", where)
	s.DPoP = d
	return nil
}

// tokenDPoP returns the DPoP checks of the token endpoint and
// /customer_authenticate.
func (s *Server) tokenDPoP() (*tokens.DPoP, error) {
	d, err := tokens.NewDPoP(tokens.DPoPConfig{
		Issuer: s.cfg.Issuer, Algorithms: s.DPoP.Algorithms, Window: s.DPoP.Window,
		Replay: s.DPoP.Replay, Nonces: s.DPoP.Nonces, Now: s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	return d, nil
}
