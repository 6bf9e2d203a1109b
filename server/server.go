package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/clientauth"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/limits"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/handlers"
	"github.com/authserver/authserver/metrics"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/embedded"
	"github.com/authserver/authserver/storage/mongodb"
)

// Options are the run-time dependencies that are not configuration.
type Options struct {
	// Logger receives every log line; default slog.Default().
	Logger *slog.Logger
	// Now is the clock of every decision; default time.Now. Tests inject a
	// controlled one.
	Now func() time.Time
	// Monitor, if set, observes every database command.
	Monitor *mongodb.Monitor
	// PublicListener and AdminListener, if set, are used instead of
	// listening on the configured addresses (tests bind first to learn the
	// port the issuer must name).
	PublicListener, AdminListener net.Listener
	// AdminMiddleware, if set, wraps the admin listener's handler: the
	// end-to-end tests check every admin exchange against the admin API's
	// OpenAPI document with it.
	AdminMiddleware func(http.Handler) http.Handler
}

// Server is a running authserver: its database, services and listeners.
type Server struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	embedded *embedded.DB
	store    storage.Store
	keyring  *kek.Keyring

	Keys     *signingkeys.KeyManager
	Clients  *clients.Cache
	Usage    *clients.UsageRecorder
	Accounts *accounts.Accounts
	Apps     *apps.Apps
	Audit    *audit.Auditor
	// Idempotency remembers Idempotency-Keys of admin creates.
	Idempotency *idempotency.Idempotency
	// users are the end-user services (server/users.go).
	users userServices

	// DPoP is what the endpoints that check DPoP proofs share
	// (server/dpop.go).
	DPoP DPoP

	Revocations  *tokens.Revocations
	Introspector *tokens.Introspector
	Limiter      *limits.AuthLimiter
	Metrics      *metrics.Metrics
	monitor      *mongodb.Monitor

	publicLn, adminLn net.Listener
	public, admin     *http.Server
	debug             *debugServer   // pprof, only when configured (debug.go)
	metrics           *metricsServer // only when metrics.addr is set (metrics.go)

	// The background loops run on loopsCtx, made in New. Serve starts
	// them under loopsMu unless Shutdown came first, so that a Shutdown
	// racing a Serve that has only just begun either waits for every loop
	// or finds none started.
	loopsMu      sync.Mutex
	loopsStopped bool
	loopsCtx     context.Context
	stopLoops    context.CancelFunc
	loops        sync.WaitGroup
	closeOnce    sync.Once
}

// New opens the database, prepares every service and binds both listeners,
// but serves nothing until Serve. On error everything opened is closed.
func New(ctx context.Context, cfg Config, opts Options) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	s := &Server{cfg: cfg, log: opts.Logger, now: opts.Now}
	s.loopsCtx, s.stopLoops = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	defer func() {
		if err != nil {
			s.closeResources(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	s.warnOpenSecretFiles()
	if err := s.openStore(ctx, opts.Monitor); err != nil {
		return nil, err
	}
	if err := s.loadKEK(); err != nil {
		return nil, err
	}
	if err := s.initServices(ctx); err != nil {
		return nil, err
	}
	s.publicLn, s.adminLn = opts.PublicListener, opts.AdminListener
	if err := s.listen(opts.AdminMiddleware); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) openStore(ctx context.Context, monitor *mongodb.Monitor) error {
	if monitor == nil {
		monitor = mongodb.NewMonitor() // the metrics read it
	}
	s.monitor = monitor
	uri := s.cfg.MongoDB.URI
	if uri == "" {
		dir := filepath.Join(s.cfg.DataDir, "db")
		e, err := embedded.Start(dir, s.cfg.MongoDB.EmbeddedAddr, nil)
		if err != nil {
			return err
		}
		s.embedded, uri = e, e.URI()
		s.log.Info("started the embedded database", "dir", dir, "socket", e.SocketPath())
		if addr := e.TCPAddr(); addr != "" {
			s.log.Warn("the embedded database also listens on TCP, without authentication: every local user can read and change it", "addr", addr)
		}
	}
	st, err := mongodb.Open(ctx, mongodb.Options{URI: uri, Database: s.cfg.MongoDB.Database, Timeout: s.cfg.MongoDB.Timeout, Monitor: monitor})
	if err != nil {
		return err
	}
	s.store = st
	if err := st.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("prepare database: %w", err)
	}
	if s.embedded != nil {
		if err := s.embedded.IndexIDPaths(ctx, s.cfg.MongoDB.Database); err != nil {
			return fmt.Errorf("prepare embedded database: %w", err)
		}
	}
	return nil
}

// loadKEK uses the configured KEK or, with the embedded database only,
// the one in data_dir/kek, generating it (mode 0600) on first start.
func (s *Server) loadKEK() error {
	raw := s.cfg.KEK
	if raw == "" {
		path := filepath.Join(s.cfg.DataDir, "kek")
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			raw = kek.New()
			if err := writeSecretFile(path, raw+"\n"); err != nil {
				return fmt.Errorf("write key-encryption key: %w", err)
			}
			s.log.Info("generated a key-encryption key", "path", path)
		case err != nil:
			return fmt.Errorf("read key-encryption key: %w", err)
		default:
			raw = string(b)
		}
	}
	cur, err := kek.Parse(raw)
	if err != nil {
		return fmt.Errorf("kek: %w", err)
	}
	var prev [][]byte
	for i, p := range s.cfg.KEKPrevious {
		k, err := kek.Parse(p)
		if err != nil {
			return fmt.Errorf("kek_previous[%d]: %w", i, err)
		}
		prev = append(prev, k)
	}
	s.keyring, err = kek.NewKeyring(cur, prev...)
	return err
}

// warnOpenSecretFiles warns, as ssh does for private keys, about each
// secret file in data_dir that group or others may read or write: the
// key-encryption key opens every sealed private key, and the owner key is
// the admin API's highest role. Only the path and mode are logged.
func (s *Server) warnOpenSecretFiles() {
	for _, name := range []string{"kek", "admin.key"} {
		path := filepath.Join(s.cfg.DataDir, name)
		fi, err := os.Stat(path)
		if err != nil {
			continue // not there yet: created 0600 when generated
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			s.log.Warn("a secret file is accessible to group or others: chmod 600 it", "path", path, "mode", fmt.Sprintf("%#o", perm))
		}
	}
}

// writeSecretFile writes a file readable by its owner only, refusing to
// replace an existing one.
func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Server) initServices(ctx context.Context) error {
	cfg := s.cfg
	if err := s.initDPoP(); err != nil {
		return err
	}
	s.Audit = audit.NewAuditor(s.store, s.now, s.log)
	s.Idempotency = idempotency.NewIdempotency(s.store, s.now, s.log)
	s.Keys = signingkeys.NewKeyManager(s.store, s.keyring, s.Audit, signingkeys.Config{
		Algorithm: cfg.Tokens.Algorithm, RSABits: cfg.Tokens.RSABits, ReloadInterval: cfg.Keys.ReloadInterval,
		RotationPeriod: cfg.Keys.RotationPeriod, PublishAhead: cfg.Keys.PublishAhead, Retention: cfg.Keys.Retention,
	}, s.now, s.log)
	if err := s.Keys.Init(ctx); err != nil {
		return err
	}
	s.Clients = clients.NewCache(s.store, clients.CacheConfig{
		Size: cfg.Cache.Apps, RefreshInterval: cfg.Cache.RefreshInterval, MaxStaleness: cfg.Cache.MaxStaleness,
	}, s.now, s.log)
	if err := s.Clients.Init(ctx); err != nil {
		return err
	}
	s.Usage = clients.NewUsageRecorder(s.store, cfg.Cache.UsageFlushInterval, s.log)
	s.Accounts = accounts.NewAccounts(s.store, s.Audit, s.Idempotency, cfg.Cache.RefreshInterval, s.now, s.log)
	if err := s.bootstrapOwner(ctx); err != nil {
		return err
	}
	s.Apps = apps.NewApps(s.store, s.Clients, s.Audit, s.keyring, s.Idempotency, s.now)
	s.initUsers()
	return s.initProtection(ctx)
}

// bootstrapOwner creates the account on an empty store: with the key in
// owner_key_file when set (nothing is written to disk: the operator holds
// the key already), otherwise with a generated key written to
// data_dir/admin.key. Either way only a path is logged.
func (s *Server) bootstrapOwner(ctx context.Context) error {
	if path := s.cfg.OwnerKeyFile; path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read owner_key_file: %w", err)
		}
		created, err := s.Accounts.BootstrapWith(ctx, strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("owner_key_file %s: %w", path, err)
		}
		if created {
			s.log.Info("created the owner account key from owner_key_file", "path", path)
		} else {
			s.log.Info("the account exists: owner_key_file is not used", "path", path)
		}
		return nil
	}
	ownerKey, err := s.Accounts.Bootstrap(ctx)
	if err != nil {
		return err
	}
	if ownerKey != "" {
		path := filepath.Join(s.cfg.DataDir, "admin.key")
		if err := writeSecretFile(path, ownerKey+"\n"); err != nil {
			return fmt.Errorf("write the owner account key: %w", err)
		}
		s.log.Info("created the owner account key", "path", path)
	}
	return nil
}

func (s *Server) listen(adminMiddleware func(http.Handler) http.Handler) error {
	cfg := s.cfg
	defaultAud := cfg.Tokens.DefaultAudience
	if defaultAud == "" {
		defaultAud = cfg.Issuer
	}
	policy := &tokens.TokenPolicy{
		Issuer: cfg.Issuer, DefaultAudience: defaultAud,
		AccessTokenLifetime: cfg.Tokens.AccessTokenLifetime, UserTokenLifetime: cfg.Tokens.UserTokenLifetime,
		Now: s.now,
	}
	strategy := tokens.NewAccessTokenStrategy(s.Keys, cfg.Issuer)
	auth := clientauth.NewAuthenticator(s.Clients, s.Usage, s.now)
	auth.UseAssertions(s.users.assertions)
	dpop, err := s.tokenDPoP()
	if err != nil {
		return err
	}
	metadata := tokens.NewMetadata(cfg.Issuer)
	metadata.DPoPSigningAlgValuesSupported = dpop.Algorithms()
	provider := tokens.NewProvider(tokens.ProviderConfig{Issuer: cfg.Issuer, TokenURL: metadata.TokenEndpoint, Limiter: s.Limiter},
		auth, s.Clients,
		&tokens.ClientCredentialsGrant{Policy: policy, Strategy: strategy, DPoP: dpop},
		s.users.jwtBearer(s.users.userTokens(policy, strategy, dpop)),
		&tokens.UnsupportedGrant{Supported: metadata.GrantTypesSupported},
	)
	users, err := s.usersPublic(policy, strategy, auth, dpop)
	if err != nil {
		return err
	}
	proxies, _ := parseCIDRs(cfg.Limits.TrustedProxies) // validated
	public := handlers.NewPublicRouter(handlers.Public{
		Provider: provider, Keys: s.Keys, Metadata: metadata, Store: s.store, Log: s.log,
		MaxBodyBytes: cfg.Public.MaxBodyBytes, JWKSMaxAge: cfg.Keys.JWKSMaxAge, Users: users,
		Authenticate: s.Limiter.Wrap(auth.Authenticate), TrustedProxies: proxies, Introspector: s.Introspector, Revoker: s.Revocations,
		Signer: s.Keys, Instruments: s.Metrics, MaxConcurrent: cfg.Public.MaxConcurrentRequests,
	})
	cons, err := s.newConsole(public)
	if err != nil {
		return err
	}
	admin := handlers.NewAdminRouter(handlers.Admin{
		Accounts: s.Accounts, Apps: s.Apps, Store: s.store, Log: s.log, MaxBodyBytes: cfg.Admin.MaxBodyBytes,
		SigningKeys: s.Keys,
		Secrets:     s.Apps, AccountKeys: s.Accounts, Audit: s.Audit,
		Users:       s.usersAdmin(),
		Instruments: s.Metrics, Metrics: s.metricsOnAdmin(), MaxConcurrent: cfg.Admin.MaxConcurrentRequests,
		Console: cons,
	})
	if s.publicLn == nil {
		if s.publicLn, err = net.Listen("tcp", cfg.Public.Addr); err != nil {
			return fmt.Errorf("public listener: %w", err)
		}
	}
	if s.adminLn == nil {
		if s.adminLn, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
	}
	s.public = httpServer(cfg.Public, public, s.log)
	if adminMiddleware != nil {
		admin = adminMiddleware(admin)
	}
	s.admin = httpServer(cfg.Admin, admin, s.log)
	if err := s.listenMetrics(); err != nil {
		return err
	}
	return s.listenDebug()
}

func httpServer(c ListenConfig, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// PublicAddr is the bound address of the public listener.
func (s *Server) PublicAddr() string { return s.publicLn.Addr().String() }

// AdminAddr is the bound address of the admin listener.
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// StoreURI is the MongoDB URI of the embedded database, "" with an
// external one. Another instance can share the database through it.
func (s *Server) StoreURI() string {
	if s.embedded == nil {
		return ""
	}
	return s.embedded.URI()
}

// Embedded is the embedded database, nil with an external MongoDB. Tests
// stop and restart it under a running server.
func (s *Server) Embedded() *embedded.DB { return s.embedded }

// Serve runs the background loops and both listeners until Shutdown. It
// returns nil after a clean shutdown.
func (s *Server) Serve() error {
	s.loopsMu.Lock()
	if s.loopsStopped {
		s.loopsMu.Unlock()
		return nil // Shutdown came first
	}
	ctx := s.loopsCtx
	for _, run := range []func(context.Context){s.Keys.Run, s.Clients.Run, s.Usage.Run, s.Accounts.Run, s.users.assertions.Run, s.Revocations.Run} {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			run(ctx)
		}()
	}
	// Housekeeping on the injected clock: the idempotency-key sweep, the
	// audit log's counted failures (flushed once more at shutdown) and,
	// in the database, the DPoP proof sweep.
	housekeeping := []func(context.Context){s.Idempotency.Run, s.Audit.Run}
	if s.DPoP.store != nil {
		housekeeping = append(housekeeping, s.DPoP.store.Run)
	}
	for _, run := range housekeeping {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			run(ctx)
		}()
	}
	s.loopsMu.Unlock()
	metricsAt := "admin"
	if s.metrics != nil {
		metricsAt = s.MetricsAddr()
	}
	s.log.Info("serving", "public", s.PublicAddr(), "admin", s.AdminAddr(), "metrics", metricsAt, "issuer", s.cfg.Issuer)
	s.serveMetrics()
	s.serveDebug()
	errc := make(chan error, 2)
	go func() { errc <- s.public.Serve(s.publicLn) }()
	go func() { errc <- s.admin.Serve(s.adminLn) }()
	var first error
	for range 2 {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
			// One listener failing takes the other down too.
			go func() { _ = s.Shutdown(context.Background()) }()
		}
	}
	return first
}

// Shutdown stops accepting requests, waits for those in flight until ctx
// ends, stops the background loops (flushing usage), and closes the
// database. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		err = errors.Join(s.public.Shutdown(ctx), s.admin.Shutdown(ctx))
		s.loopsMu.Lock()
		s.loopsStopped = true
		s.loopsMu.Unlock()
		s.stopLoops()
		s.loops.Wait()
		s.closeResources(ctx)
		s.log.Info("stopped")
	})
	return err
}

func (s *Server) closeResources(ctx context.Context) {
	s.closeDebug()
	s.closeMetrics()
	for _, ln := range []net.Listener{s.publicLn, s.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if s.store != nil {
		_ = s.store.Close(ctx)
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
}
