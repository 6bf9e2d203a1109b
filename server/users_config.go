package server

import (
	"fmt"
	"time"

	"github.com/authserver/authserver/handlers"
)

// AssertionsConfig governs the JWTs apps sign themselves (RFC 7523):
// client assertions (private_key_jwt, client_secret_jwt) and the user
// assertions of secure mode (docs/credentials.md, "Secure mode").
type AssertionsConfig struct {
	// ClockSkew is tolerated on an assertion's exp, iat and nbf.
	ClockSkew time.Duration `koanf:"clock_skew"`
	// MaxLifetime bounds how far ahead an assertion's exp may be
	// (docs/credentials.md, "Secure mode": at most 60 minutes).
	MaxLifetime time.Duration `koanf:"max_lifetime"`
	// SweepInterval is how often expired jti records are deleted; expiry
	// itself is enforced by every look-up.
	SweepInterval time.Duration `koanf:"sweep_interval"`
	// JWKSTimeout bounds one fetch of an app's jwks_uri.
	JWKSTimeout time.Duration `koanf:"jwks_timeout"`
	// JWKSMaxBytes bounds one jwks_uri document.
	JWKSMaxBytes int64 `koanf:"jwks_max_bytes"`
	// JWKSCacheTTL is how long a jwks_uri document without Cache-Control
	// max-age is kept; max-age is honoured between 1m and 1h.
	JWKSCacheTTL time.Duration `koanf:"jwks_cache_ttl"`
	// JWKSAllowLoopback lets jwks_uri be plain http on a loopback address.
	// For tests only: it opens the fetcher to the server's own host.
	JWKSAllowLoopback bool `koanf:"jwks_allow_loopback"`
}

// CustomersConfig shapes POST /customer_authenticate (docs/credentials.md,
// "Test users" and "Secure mode").
type CustomersConfig struct {
	// CookieSameSite is the SameSite attribute of the token cookie of
	// cookie mode: strict, lax or none (none needs an https issuer).
	CookieSameSite string `koanf:"cookie_same_site"`
}

func defaultAssertionsConfig() AssertionsConfig {
	return AssertionsConfig{
		ClockSkew: 30 * time.Second, MaxLifetime: time.Hour, SweepInterval: time.Minute,
		JWKSTimeout: 5 * time.Second, JWKSMaxBytes: 64 << 10, JWKSCacheTTL: 5 * time.Minute,
	}
}

func defaultCustomersConfig() CustomersConfig {
	return CustomersConfig{CookieSameSite: "strict"}
}

// validateUsers checks the assertions and customers sections.
func (c *Config) validateUsers() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	a := c.Assertions
	if a.ClockSkew <= 0 || a.ClockSkew > 5*time.Minute {
		bad("assertions.clock_skew must be between 0 and 5m")
	}
	if a.MaxLifetime <= 0 || a.MaxLifetime > 24*time.Hour {
		bad("assertions.max_lifetime must be between 0 and 24h")
	}
	for name, d := range map[string]time.Duration{
		"assertions.sweep_interval": a.SweepInterval, "assertions.jwks_timeout": a.JWKSTimeout,
		"assertions.jwks_cache_ttl": a.JWKSCacheTTL,
	} {
		if d <= 0 {
			bad("%s must be a positive duration", name)
		}
	}
	if a.JWKSMaxBytes < 1024 || a.JWKSMaxBytes > 1<<20 {
		bad("assertions.jwks_max_bytes must be between 1024 and 1048576")
	}
	switch c.Customers.CookieSameSite {
	case "strict", "lax":
	case "none":
		if !handlers.CookieSecure(c.Issuer) {
			bad("customers.cookie_same_site none needs a Secure cookie, so an https issuer")
		}
	default:
		bad("customers.cookie_same_site %q must be strict, lax or none", c.Customers.CookieSameSite)
	}
	return errs
}
