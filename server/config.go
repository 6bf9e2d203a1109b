package server

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/authserver/authserver/storage/embedded"
)

// Config is every option of the server. Its defaults are DefaultConfig;
// configs/authserver.yaml documents each option with the same defaults.
// Durations are Go durations ("10s", "24h").
type Config struct {
	// Issuer is the issuer identifier (RFC 8414 §2): the "iss" of every
	// token and the base of every advertised endpoint URL.
	Issuer string `koanf:"issuer"`
	// DataDir holds the embedded database, the generated KEK and admin.key.
	DataDir string `koanf:"data_dir"`
	// KEK is the base64 key-encryption key (32 bytes) sealing private keys
	// at rest. Empty with the embedded database: generated into
	// DataDir/kek. Required with an external MongoDB.
	KEK string `koanf:"kek"`
	// KEKPrevious are older KEKs, still accepted for opening values sealed
	// before a KEK rotation.
	KEKPrevious []string `koanf:"kek_previous"`
	// OwnerKeyFile names a file holding the owner account key to create
	// the account with on an empty store (from `authserver account-keys
	// generate`, e.g. a mounted Kubernetes Secret), instead of generating
	// one into DataDir/admin.key. Ignored once the account exists; a file
	// that holds no well-formed account key stops the start either way.
	OwnerKeyFile string        `koanf:"owner_key_file"`
	Public       ListenConfig  `koanf:"public"`
	Admin        ListenConfig  `koanf:"admin"`
	MongoDB      MongoDBConfig `koanf:"mongodb"`
	Tokens       TokensConfig  `koanf:"tokens"`
	Keys         KeysConfig    `koanf:"keys"`
	Cache        CacheConfig   `koanf:"cache"`
	Log          LogConfig     `koanf:"log"`
	// Assertions governs app-signed JWTs (RFC 7523).
	Assertions AssertionsConfig `koanf:"assertions"`
	// Customers shapes /customer_authenticate.
	Customers CustomersConfig `koanf:"customers"`
	// DPoP governs DPoP proofs (server/dpop.go).
	DPoP DPoPConfig `koanf:"dpop"`
	// Limits bound failed client authentication (server/protect.go).
	Limits LimitsConfig `koanf:"limits"`
	// Revocation drives the token denylist (server/protect.go).
	Revocation RevocationConfig `koanf:"revocation"`
	// Console is the admin console (server/console.go).
	Console ConsoleConfig `koanf:"console"`
	// Metrics places the Prometheus endpoint.
	Metrics MetricsConfig `koanf:"metrics"`
	// Debug holds diagnostics that are off by default.
	Debug DebugConfig `koanf:"debug"`
}

// ListenConfig is one HTTP listener.
type ListenConfig struct {
	// Addr is host:port; port 0 picks a free one.
	Addr              string        `koanf:"addr"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// MaxConcurrentRequests caps the requests served at once; more get
	// 503 with Retry-After at once.
	MaxConcurrentRequests int `koanf:"max_concurrent_requests"`
}

// MongoDBConfig selects the database.
type MongoDBConfig struct {
	// URI is a MongoDB connection string; empty starts the embedded
	// FerretDB under DataDir.
	URI      string `koanf:"uri"`
	Database string `koanf:"database"`
	// Timeout bounds each database operation.
	Timeout time.Duration `koanf:"timeout"`
	// EmbeddedAddr, if set, is a loopback host:port where the embedded
	// FerretDB also listens on TCP, for another process on this host.
	// FerretDB asks for no credentials: every local user can reach it
	// there. Empty (the default): the embedded database listens only on a
	// Unix socket in DataDir/db, reachable by the server's own user.
	EmbeddedAddr string `koanf:"embedded_addr"`
}

// TokensConfig shapes access tokens.
type TokensConfig struct {
	// Algorithm signs new keys: RS256, ES256 or EdDSA.
	Algorithm string `koanf:"algorithm"`
	// RSABits is the RS256 modulus size: 2048 or 3072.
	RSABits int `koanf:"rsa_bits"`
	// AccessTokenLifetime is the default lifetime of app tokens.
	AccessTokenLifetime time.Duration `koanf:"access_token_lifetime"`
	// UserTokenLifetime is the default lifetime of appUser tokens.
	UserTokenLifetime time.Duration `koanf:"user_token_lifetime"`
	// DefaultAudience is "aud" when the client requests none and its app
	// allows none; empty means the issuer.
	DefaultAudience string `koanf:"default_audience"`
}

// KeysConfig drives the signing-key manager.
type KeysConfig struct {
	// ReloadInterval is how often an instance looks for key-set changes
	// made by other instances.
	ReloadInterval time.Duration `koanf:"reload_interval"`
	// JWKSMaxAge is the Cache-Control max-age of the JWKS; JWKSMaxAge +
	// ReloadInterval must not exceed PublishAhead.
	JWKSMaxAge time.Duration `koanf:"jwks_max_age"`
	// RotationPeriod is how long a signing key signs before the next one
	// takes over; 0 disables time-based rotation.
	RotationPeriod time.Duration `koanf:"rotation_period"`
	// PublishAhead is how long the next key is in the JWKS before it
	// signs: at least JWKSMaxAge + ReloadInterval, at most RotationPeriod.
	PublishAhead time.Duration `koanf:"publish_ahead"`
	// Retention is how long a retired key stays in the JWKS: at least the
	// longest token lifetime (24h) + ReloadInterval + 5m clock-skew leeway.
	Retention time.Duration `koanf:"retention"`
}

// CacheConfig bounds the in-memory caches in front of the database.
type CacheConfig struct {
	// Apps is the most apps (clients) kept in memory.
	Apps int `koanf:"apps"`
	// RefreshInterval bounds how long a change made on another instance
	// (a discarded secret, a disabled app) takes to apply here.
	RefreshInterval time.Duration `koanf:"refresh_interval"`
	// MaxStaleness is how long cached clients keep being served while the
	// database is unreachable.
	MaxStaleness time.Duration `koanf:"max_staleness"`
	// UsageFlushInterval is how often secrets' last-used times are written.
	UsageFlushInterval time.Duration `koanf:"usage_flush_interval"`
}

// LogConfig selects log output.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `koanf:"level"`
	// Format is text or json.
	Format string `koanf:"format"`
}

// MetricsConfig places GET /metrics. It is never on the public listener:
// its series (per-route refusals of the admin API, the limiter's state,
// the app cache) are for operators.
type MetricsConfig struct {
	// Addr, when set, is the host:port of a listener of its own serving
	// only GET /metrics, for a scraper that cannot reach the admin
	// listener (which stays on loopback). Empty (the default): /metrics
	// is served on the admin listener.
	Addr string `koanf:"addr"`
}

// DebugConfig holds diagnostics that are off by default.
type DebugConfig struct {
	// PprofAddr, when set, serves Go's net/http/pprof profiles on a
	// listener of their own at this host:port (test/load profiles the
	// server under load through it). Profiles reveal internals, the
	// command line included, and cost CPU while taken: a loopback address
	// only (127.0.0.0/8, ::1 or localhost), or Validate refuses it. Empty
	// (the default): off.
	PprofAddr string `koanf:"pprof_addr"`
}

// DefaultConfig returns the defaults of every option.
func DefaultConfig() Config {
	listener := func(addr string, concurrent int) ListenConfig {
		return ListenConfig{
			Addr: addr, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxBodyBytes: 64 << 10,
			MaxConcurrentRequests: concurrent,
		}
	}
	return Config{
		Issuer:  "http://localhost:8080",
		DataDir: "./data",
		Public:  listener(":8080", 1024),
		Admin:   listener("127.0.0.1:8081", 64),
		MongoDB: MongoDBConfig{Database: "authserver", Timeout: 5 * time.Second},
		Tokens: TokensConfig{
			Algorithm: "RS256", RSABits: 2048,
			AccessTokenLifetime: time.Hour, UserTokenLifetime: 15 * time.Minute,
		},
		Keys: KeysConfig{
			ReloadInterval: 10 * time.Second, JWKSMaxAge: 5 * time.Minute,
			RotationPeriod: 30 * 24 * time.Hour, PublishAhead: 24 * time.Hour, Retention: 48 * time.Hour,
		},
		Cache: CacheConfig{Apps: 100_000, RefreshInterval: 2 * time.Second, MaxStaleness: 60 * time.Second, UsageFlushInterval: 30 * time.Second},
		Log:   LogConfig{Level: "info", Format: "text"},

		Assertions: defaultAssertionsConfig(),
		Customers:  defaultCustomersConfig(),
		DPoP:       defaultDPoPConfig(),
		Limits: LimitsConfig{
			ClientFailureBurst: 10, ClientFailureInterval: 6 * time.Second,
			SourceFailureBurst: 30, SourceFailureInterval: 2 * time.Second,
			LoginUserFailureBurst: 5, LoginUserFailureInterval: time.Minute,
			LoginSourceFailureBurst: 20, LoginSourceFailureInterval: 30 * time.Second,
			Tracked: 20_000,
		},
		Revocation: RevocationConfig{RefreshInterval: 2 * time.Second, SweepInterval: 10 * time.Minute},

		Console: defaultConsole(),
	}
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Issuer, "/") {
		bad("issuer %q must be an http(s) URL with no query, fragment or trailing slash (RFC 8414 §2)", c.Issuer)
	}
	if c.DataDir == "" {
		bad("data_dir must be set")
	}
	if c.MongoDB.URI != "" && c.KEK == "" {
		bad("kek (AUTHSERVER_KEK) is required with an external MongoDB: every instance must share it")
	}
	switch c.Tokens.Algorithm {
	case "RS256", "ES256", "EdDSA":
	default:
		bad("tokens.algorithm %q must be RS256, ES256 or EdDSA", c.Tokens.Algorithm)
	}
	if c.Tokens.RSABits != 2048 && c.Tokens.RSABits != 3072 {
		bad("tokens.rsa_bits %d must be 2048 or 3072", c.Tokens.RSABits)
	}
	for name, d := range map[string]time.Duration{
		"tokens.access_token_lifetime": c.Tokens.AccessTokenLifetime,
		"tokens.user_token_lifetime":   c.Tokens.UserTokenLifetime,
		"keys.reload_interval":         c.Keys.ReloadInterval,
		"keys.jwks_max_age":            c.Keys.JWKSMaxAge,
		"keys.publish_ahead":           c.Keys.PublishAhead,
		"keys.retention":               c.Keys.Retention,
		"cache.refresh_interval":       c.Cache.RefreshInterval,
		"cache.max_staleness":          c.Cache.MaxStaleness,
		"cache.usage_flush_interval":   c.Cache.UsageFlushInterval,
		"mongodb.timeout":              c.MongoDB.Timeout,
	} {
		if d <= 0 {
			bad("%s must be a positive duration", name)
		}
	}
	if c.Tokens.AccessTokenLifetime > 24*time.Hour || c.Tokens.UserTokenLifetime > 24*time.Hour {
		bad("token lifetimes must be at most 24h")
	}
	c.validateKeySchedule(bad)
	c.validateConsole(bad)
	if c.Cache.Apps < 1 {
		bad("cache.apps must be at least 1")
	}
	for name, l := range map[string]ListenConfig{"public": c.Public, "admin": c.Admin} {
		if l.Addr == "" {
			bad("%s.addr must be set", name)
		}
		if l.MaxBodyBytes < 1024 {
			bad("%s.max_body_bytes must be at least 1024", name)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	if c.MongoDB.EmbeddedAddr != "" {
		if err := embedded.CheckLoopback(c.MongoDB.EmbeddedAddr); err != nil {
			bad("mongodb.embedded_addr: %v", err)
		}
	}
	if c.Metrics.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Addr); err != nil {
			bad("metrics.addr %q must be host:port", c.Metrics.Addr)
		}
	}
	if c.Debug.PprofAddr != "" {
		// Profiles hold the command line (a --kek or --mongodb-uri flag
		// among it) and cost CPU while taken: loopback only, like the
		// embedded database's TCP listener.
		if _, _, err := net.SplitHostPort(c.Debug.PprofAddr); err != nil {
			bad("debug.pprof_addr %q must be host:port", c.Debug.PprofAddr)
		} else if err := embedded.CheckLoopback(c.Debug.PprofAddr); err != nil {
			bad("debug.pprof_addr %q must be a loopback address: profiles show the command line and its flags", c.Debug.PprofAddr)
		}
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format %q must be text or json", c.Log.Format)
	}
	errs = append(errs, c.validateUsers()...)
	c.validateDPoP(bad)
	c.validateProtection(bad)
	return errors.Join(errs...)
}
