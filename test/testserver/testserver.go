// Package testserver starts real authserver instances for end-to-end
// tests: the real HTTP listeners on loopback, the embedded FerretDB through
// the real MongoDB driver, and a controllable clock. It is imported by
// tests only, never by the server binary.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/storage/mongodb"
)

// Clock is a controllable clock, safe for concurrent use. It starts at the
// real time and moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to the current time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Instance is one running server.
type Instance struct {
	Server    *server.Server
	Config    server.Config
	Clock     *Clock
	PublicURL string
	AdminURL  string
	// AdminKey is the owner account key written at first start ("" when
	// the instance joined an existing database).
	AdminKey string
	Monitor  *mongodb.Monitor
	Logs     *SyncBuffer
	// Contract checks every admin exchange against the admin API's
	// document; nil for an instance the test did not start.
	Contract *Contract

	done chan error
	once sync.Once
}

// SyncBuffer is a goroutine-safe log sink, so tests can scan everything a
// server logged.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Option changes the config or clock of an instance before it starts.
type Option func(*server.Config)

// Config returns a config for a test instance: loopback listeners on free
// ports, data under dir, short refresh intervals.
func Config(dir string) server.Config {
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.Public.Addr = "127.0.0.1:0"
	cfg.Admin.Addr = "127.0.0.1:0"
	cfg.Cache.RefreshInterval = 200 * time.Millisecond
	cfg.Keys.ReloadInterval = 200 * time.Millisecond
	cfg.Cache.UsageFlushInterval = 500 * time.Millisecond
	cfg.Revocation.RefreshInterval = 200 * time.Millisecond
	// Tests fail client authentication and test-user logins on purpose,
	// fast and from one address; the tests of the limiters set their own
	// limits.
	cfg.Limits.ClientFailureBurst, cfg.Limits.SourceFailureBurst = 1<<20, 1<<20
	cfg.Limits.LoginUserFailureBurst, cfg.Limits.LoginSourceFailureBurst = 1<<20, 1<<20
	cfg.Log.Level = "debug"
	return cfg
}

// Start starts an instance with data in a fresh temporary directory and
// stops it when the test ends. The issuer is the public listener's URL
// unless an option sets one.
func Start(t testing.TB, opts ...Option) *Instance {
	t.Helper()
	return StartWith(t, Config(t.TempDir()), NewClock(), opts...)
}

// StartWith starts an instance with cfg and clock.
func StartWith(t testing.TB, cfg server.Config, clock *Clock, opts ...Option) *Instance {
	t.Helper()
	for _, o := range opts {
		o(&cfg)
	}
	logs := &SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	monitor := mongodb.NewMonitor()
	contract := NewContract(t)
	// The issuer must name the public listener, whose port is known only
	// once bound.
	publicLn, err := net.Listen("tcp", cfg.Public.Addr)
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer == server.DefaultConfig().Issuer {
		cfg.Issuer = "http://" + publicLn.Addr().String()
	}
	srv, err := server.New(context.Background(), cfg, server.Options{
		Logger: log, Now: clock.Now, Monitor: monitor, PublicListener: publicLn, AdminListener: adminLn,
		AdminMiddleware: contract.Middleware,
	})
	if err != nil {
		_ = publicLn.Close()
		_ = adminLn.Close()
		t.Fatalf("start server: %v\n%s", err, logs)
	}
	in := &Instance{
		Server: srv, Config: cfg, Clock: clock, Monitor: monitor, Logs: logs, Contract: contract,
		PublicURL: "http://" + srv.PublicAddr(), AdminURL: "http://" + srv.AdminAddr(),
		done: make(chan error, 1),
	}
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin.key")); err == nil {
		in.AdminKey = strings.TrimSpace(string(b))
	}
	go func() { in.done <- srv.Serve() }()
	t.Cleanup(func() {
		in.Stop(t)
		in.CheckLogs(t)
		in.CheckContract(t)
	})
	return in
}

// Stop shuts the instance down gracefully (idempotent).
func (in *Instance) Stop(t testing.TB) {
	in.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Server.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-in.done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// Admin sends an admin API request with key (the owner key if "") and
// decodes a JSON response into out (if not nil). It returns the status.
func (in *Instance) Admin(t testing.TB, key, method, path string, body any, out any) int {
	t.Helper()
	status, _, data := in.AdminRequest(t, key, method, path, body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("admin %s %s: decode %q: %v", method, path, data, err)
		}
	}
	return status
}

// AdminRequest sends an admin API request with key (the owner key if "",
// no Authorization header if "-"), body as JSON if it is not nil (a nil
// map is no body, not JSON null), and
// extra headers as name, value pairs. It returns the status, the headers
// and the raw body of the response, for tests that look at more than a
// decoded success.
func (in *Instance) AdminRequest(t testing.TB, key, method, path string, body any, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	if key == "" {
		key = in.AdminKey
	}
	var rd io.Reader
	reqBody := []byte{}
	if v := reflect.ValueOf(body); body != nil && !(v.Kind() == reflect.Map && v.IsNil()) {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd, reqBody = bytes.NewReader(b), b
	}
	req, err := http.NewRequest(method, in.AdminURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "-" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if in.Contract == nil {
		// A server this test did not start (another process): check the
		// exchange here.
		c := NewContract(t)
		c.Check(req, reqBody, resp.StatusCode, resp.Header, data)
		if v := c.TakeViolations(); len(v) > 0 {
			t.Errorf("the admin API broke the contract of adminapi/openapi.yaml: %s", v[0])
		}
	}
	return resp.StatusCode, resp.Header, data
}

// App is an app created through the admin API, with its secret.
type App struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	SecretID     string   `json:"secret_id"`
	Scopes       []string `json:"scopes"`
	Audiences    []string `json:"audiences"`
}

// CreateApp registers an app through the admin API and fails the test on
// any error.
func (in *Instance) CreateApp(t testing.TB, req map[string]any) App {
	t.Helper()
	var app App
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/apps", req, &app); status != http.StatusCreated {
		t.Fatalf("create app: status %d", status)
	}
	return app
}

// DumpStore returns every document of every collection of the instance's
// database, by collection, as canonical extended JSON. Tests compare dumps
// to prove that a request changed nothing.
func (in *Instance) DumpStore(t testing.TB) map[string][]string {
	t.Helper()
	// Write pending last-used bookkeeping first, so that a periodic flush
	// of requests made before this dump cannot land between two dumps.
	if err := in.Server.Usage.Flush(context.Background()); err != nil {
		t.Fatalf("flush usage before dump: %v", err)
	}
	uri := in.Config.MongoDB.URI
	if uri == "" {
		uri = in.Server.StoreURI()
	}
	return DumpDatabase(t, uri, in.Config.MongoDB.Database)
}
