package server

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/authserver/authserver/authserver/limits"
	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/metrics"
)

// LimitsConfig bounds failed client authentication and failed test-user
// logins (docs/architecture.md, "Abuse resistance"). Each limit is a
// token bucket: Burst failures at once, then one more per Interval.
type LimitsConfig struct {
	// ClientFailureBurst and ClientFailureInterval limit failed
	// authentications per presented client id.
	ClientFailureBurst    int           `koanf:"client_failure_burst"`
	ClientFailureInterval time.Duration `koanf:"client_failure_interval"`
	// SourceFailureBurst and SourceFailureInterval limit them per source
	// address (IPv4 address, IPv6 /64).
	SourceFailureBurst    int           `koanf:"source_failure_burst"`
	SourceFailureInterval time.Duration `koanf:"source_failure_interval"`
	// LoginUserFailureBurst and LoginUserFailureInterval limit failed
	// test-user logins per app and username; an exhausted user stops only
	// sources that have failed logins recently themselves.
	LoginUserFailureBurst    int           `koanf:"login_user_failure_burst"`
	LoginUserFailureInterval time.Duration `koanf:"login_user_failure_interval"`
	// LoginSourceFailureBurst and LoginSourceFailureInterval limit failed
	// test-user logins per source address.
	LoginSourceFailureBurst    int           `koanf:"login_source_failure_burst"`
	LoginSourceFailureInterval time.Duration `koanf:"login_source_failure_interval"`
	// Tracked is how many client ids, app users and sources each limiter
	// remembers (least recently failing forgotten first).
	Tracked int `koanf:"tracked"`
	// TrustedProxies is a comma-separated list of CIDRs of reverse
	// proxies whose X-Forwarded-For names the real source.
	TrustedProxies string `koanf:"trusted_proxies"`
}

// RevocationConfig drives the token denylist (RFC 7009).
type RevocationConfig struct {
	// RefreshInterval bounds how long a token revoked through another
	// instance still introspects as active here.
	RefreshInterval time.Duration `koanf:"refresh_interval"`
	// SweepInterval is how often entries of expired tokens are removed.
	SweepInterval time.Duration `koanf:"sweep_interval"`
}

// parseCIDRs parses a comma-separated list of CIDRs.
func parseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// validateProtection reports the problems of the options of this file.
func (c *Config) validateProtection(bad func(format string, args ...any)) {
	l := c.Limits
	if l.ClientFailureBurst < 1 || l.SourceFailureBurst < 1 {
		bad("limits.client_failure_burst and limits.source_failure_burst must be at least 1")
	}
	if l.ClientFailureInterval <= 0 || l.SourceFailureInterval <= 0 {
		bad("limits.client_failure_interval and limits.source_failure_interval must be positive durations")
	}
	if l.LoginUserFailureBurst < 1 || l.LoginSourceFailureBurst < 1 {
		bad("limits.login_user_failure_burst and limits.login_source_failure_burst must be at least 1")
	}
	if l.LoginUserFailureInterval <= 0 || l.LoginSourceFailureInterval <= 0 {
		bad("limits.login_user_failure_interval and limits.login_source_failure_interval must be positive durations")
	}
	if l.Tracked < 100 {
		bad("limits.tracked must be at least 100")
	}
	if _, err := parseCIDRs(l.TrustedProxies); err != nil {
		bad("limits.trusted_proxies: %v", err)
	}
	if c.Revocation.RefreshInterval <= 0 || c.Revocation.SweepInterval <= 0 {
		bad("revocation.refresh_interval and revocation.sweep_interval must be positive durations")
	}
	for name, l := range map[string]ListenConfig{"public": c.Public, "admin": c.Admin} {
		if l.MaxConcurrentRequests < 1 {
			bad("%s.max_concurrent_requests must be at least 1", name)
		}
	}
}

// authLimiter builds the client authentication limiter from the config.
func (s *Server) authLimiter() *limits.AuthLimiter {
	l := s.cfg.Limits
	return limits.NewAuthLimiter(limits.AuthLimitConfig{
		ClientBurst: l.ClientFailureBurst, ClientInterval: l.ClientFailureInterval,
		SourceBurst: l.SourceFailureBurst, SourceInterval: l.SourceFailureInterval,
		Tracked: l.Tracked,
	}, s.now)
}

// initProtection builds the token denylist (loaded from the database), the
// introspector, the client authentication limiter and the metrics.
func (s *Server) initProtection(ctx context.Context) error {
	cfg := s.cfg
	s.Revocations = tokens.NewRevocations(s.store, s.Keys, tokens.RevocationConfig{
		RefreshInterval: cfg.Revocation.RefreshInterval, SweepInterval: cfg.Revocation.SweepInterval,
		MaxStaleness: cfg.Cache.MaxStaleness,
	}, s.now, s.log)
	if err := s.Revocations.Init(ctx); err != nil {
		return err
	}
	s.Introspector = tokens.NewIntrospector(s.Keys, s.Clients, s.Revocations, cfg.Issuer, s.now)
	s.Limiter = s.authLimiter()
	s.Metrics = metrics.New(metrics.Sources{
		Keys: s.Keys, Monitor: s.monitor, Limiter: s.Limiter, Revocations: s.Revocations,
		Introspection: s.Introspector, Clients: s.Clients, Passwords: s.users.testUsers, Logins: s.users.logins,
	})
	return nil
}
