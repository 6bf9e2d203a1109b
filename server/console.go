package server

import (
	"net"
	"net/http"
	"time"

	"github.com/authserver/authserver/console"
)

// ConsoleConfig is the admin console, served on the admin listener under
// /console (docs/console.md). Sessions are kept in memory: a restart signs
// everyone out, and instances behind one address need sticky sessions.
type ConsoleConfig struct {
	// Enabled serves the console; false leaves /console unrouted.
	Enabled bool `koanf:"enabled"`
	// SessionIdleTimeout signs an operator out after this long without a
	// request.
	SessionIdleTimeout time.Duration `koanf:"session_idle_timeout"`
	// SessionLifetime signs an operator out this long after sign-in,
	// active or not; at least SessionIdleTimeout, at most 7 days.
	SessionLifetime time.Duration `koanf:"session_lifetime"`
}

// defaultConsole is the console's part of DefaultConfig.
func defaultConsole() ConsoleConfig {
	return ConsoleConfig{Enabled: true, SessionIdleTimeout: 30 * time.Minute, SessionLifetime: 12 * time.Hour}
}

func (c *Config) validateConsole(bad func(format string, args ...any)) {
	cc := c.Console
	if cc.SessionIdleTimeout <= 0 {
		bad("console.session_idle_timeout must be a positive duration")
	}
	if cc.SessionLifetime < cc.SessionIdleTimeout || cc.SessionLifetime > 7*24*time.Hour {
		bad("console.session_lifetime must be at least console.session_idle_timeout and at most 168h")
	}
}

// newConsole builds the console on the services, with public (the public
// listener's handler) as the token tester's token endpoint; nil when the
// console is disabled. Its cookie is Secure unless the admin listener is
// on loopback, where it is plain http.
func (s *Server) newConsole(public http.Handler) (http.Handler, error) {
	if !s.cfg.Console.Enabled {
		return nil, nil
	}
	addr := s.cfg.Admin.Addr
	if s.adminLn != nil {
		addr = s.adminLn.Addr().String()
	}
	c, err := console.New(console.Options{
		Accounts: s.Accounts, Apps: s.Apps, Secrets: s.Apps, Keys: s.Keys, Audit: s.Audit,
		TokenEndpoint: public, TokenPath: "/oauth2/token",
		SecureCookie: !loopback(addr),
		IdleTimeout:  s.cfg.Console.SessionIdleTimeout, Lifetime: s.cfg.Console.SessionLifetime,
		Now: s.now, Log: s.log,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// loopback reports whether host:port addr listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
