package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authserver/authserver/storage"
)

// KeySource is what the metrics read of the signing-key manager.
type KeySource interface {
	Version() int64
	Rotations() uint64
	KeySet() storage.KeySet
}

// LimiterSource is what the metrics read of the client authentication
// limiter and of the test-user login limiter (per client id or per app
// user, and per source).
type LimiterSource interface {
	Limited() (bySource, byClient uint64)
	Tracked() (clients, sources int)
}

// PasswordSource is what the metrics read of the test-user service.
type PasswordSource interface {
	PasswordHashes() uint64
}

// RevocationSource is what the metrics read of the token denylist.
type RevocationSource interface {
	Len() int
	RevokedHere() uint64
}

// IntrospectionSource is what the metrics read of the introspector.
type IntrospectionSource interface {
	Counts() (active, inactive uint64)
}

// StoreMonitor is what the metrics read of the database client's command
// monitor (mongodb.Monitor): commands started, by command name, failed
// commands, and failed checks of the database server.
type StoreMonitor interface {
	Counts() map[string]int
	Failures() int
	HeartbeatFailures() int
}

// CacheSource is what the metrics read of the client cache.
type CacheSource interface {
	Len() int
}

// Sources are the components whose counters are exported. A nil field is
// left out.
type Sources struct {
	Keys          KeySource
	Monitor       StoreMonitor
	Limiter       LimiterSource
	Logins        LimiterSource
	Revocations   RevocationSource
	Introspection IntrospectionSource
	Clients       CacheSource
	Passwords     PasswordSource
}

// Metrics holds the registry and the instruments the HTTP layer updates.
// It is safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	duration  *prometheus.HistogramVec
	responses *prometheus.CounterVec
	errors    *prometheus.CounterVec
	tokens    *prometheus.CounterVec

	// tokenCounters maps grant and algorithm to their counter; replaced
	// whole (copy on write) when a new pair appears, which happens a
	// handful of times in a process's life.
	tokenMu       sync.Mutex
	tokenCounters atomic.Pointer[map[[2]string]prometheus.Counter]

	// shed counts requests refused at the cap on concurrent requests.
	shed atomic.Uint64
}

// New returns the metrics of one server, with Go runtime and process
// collectors and the counters of src.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authserver_http_request_duration_seconds",
			Help:    "Time from request to response, by listener and route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"listener", "route"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_http_responses_total",
			Help: "Responses by listener, route template and status class (2xx, 4xx, ...).",
		}, []string{"listener", "route", "class"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_http_errors_total",
			Help: "Error responses by listener, route template and error code (RFC 6749 §5.2 error, or the admin API's code).",
		}, []string{"listener", "route", "error"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_tokens_issued_total",
			Help: "Access tokens issued, by grant type and signing algorithm.",
		}, []string{"grant", "alg"}),
	}
	empty := map[[2]string]prometheus.Counter{}
	m.tokenCounters.Store(&empty)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.duration, m.responses, m.errors, m.tokens,
		&sourceCollector{src: src, m: m},
	)
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format
// (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: 4})
}

// RouteObserver returns the function that records one response of route
// (a route template such as "/admin/v1/apps/{id}", never a raw path) on
// listener: its status, how long it took and the error code it answered
// with ("" for none). Call it once per route when mounting; the returned
// function does no label look-up for the duration and status class.
func (m *Metrics) RouteObserver(listener, route string) func(status int, elapsed time.Duration, errorCode string) {
	duration := m.duration.WithLabelValues(listener, route)
	var classes [6]prometheus.Counter
	for i := 1; i < len(classes); i++ {
		classes[i] = m.responses.WithLabelValues(listener, route, strconv.Itoa(i)+"xx")
	}
	errs := &codeCounters{vec: m.errors, listener: listener, route: route}
	empty := map[string]prometheus.Counter{}
	errs.byCode.Store(&empty)
	return func(status int, elapsed time.Duration, errorCode string) {
		duration.Observe(elapsed.Seconds())
		if c := status / 100; c >= 1 && c < len(classes) {
			classes[c].Inc()
		}
		if errorCode != "" {
			errs.inc(errorCode)
		}
	}
}

// codeCounters are the error counters of one route, by code, resolved
// once per code. Codes are chosen by the server, never by the client, so
// the set is small.
type codeCounters struct {
	vec             *prometheus.CounterVec
	listener, route string
	mu              sync.Mutex
	byCode          atomic.Pointer[map[string]prometheus.Counter]
}

func (c *codeCounters) inc(code string) {
	if ctr, ok := (*c.byCode.Load())[code]; ok {
		ctr.Inc()
		return
	}
	c.mu.Lock()
	old := *c.byCode.Load()
	ctr, ok := old[code]
	if !ok {
		ctr = c.vec.WithLabelValues(c.listener, c.route, code)
		next := make(map[string]prometheus.Counter, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[code] = ctr
		c.byCode.Store(&next)
	}
	c.mu.Unlock()
	ctr.Inc()
}

// TokenIssued counts one access token issued through grant, signed with
// alg.
func (m *Metrics) TokenIssued(grant, alg string) {
	key := [2]string{grant, alg}
	if c, ok := (*m.tokenCounters.Load())[key]; ok {
		c.Inc()
		return
	}
	m.tokenMu.Lock()
	old := *m.tokenCounters.Load()
	c, ok := old[key]
	if !ok {
		c = m.tokens.WithLabelValues(grant, alg)
		next := make(map[[2]string]prometheus.Counter, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[key] = c
		m.tokenCounters.Store(&next)
	}
	m.tokenMu.Unlock()
	c.Inc()
}

// Shed counts one request refused because its listener was at its cap of
// concurrent requests.
func (m *Metrics) Shed() { m.shed.Add(1) }

// sourceCollector exports the domain's own counters at scrape time.
type sourceCollector struct {
	src Sources
	m   *Metrics
}

var (
	descKeySetVersion = prometheus.NewDesc("authserver_signing_key_set_version",
		"Version of the signing-key set this instance has loaded.", nil, nil)
	descRotations = prometheus.NewDesc("authserver_signing_key_rotations_total",
		"Changes of the active signing key seen by this instance.", nil, nil)
	descKeys = prometheus.NewDesc("authserver_signing_keys",
		"Signing keys in the key set, by state (next, active, retired, inactive).", []string{"state"}, nil)
	descStoreCommands = prometheus.NewDesc("authserver_store_commands_total",
		"Database commands sent, by command name.", []string{"command"}, nil)
	descStoreFailures = prometheus.NewDesc("authserver_store_errors_total",
		"Database errors: failed commands and failed server checks (the database unreachable).", []string{"kind"}, nil)
	descRateLimited = prometheus.NewDesc("authserver_rate_limited_requests_total",
		"Requests refused by a limit: failed client authentication per source or per client id, failed test-user logins per source or per app user (429), or the cap on concurrent requests (503).", []string{"reason"}, nil)
	descLimiterTracked = prometheus.NewDesc("authserver_auth_limiter_tracked",
		"Client ids, app users and sources the authentication and login limiters remember (bounded).", []string{"kind"}, nil)
	descRevoked = prometheus.NewDesc("authserver_revoked_tokens",
		"Revoked, unexpired access tokens on the in-memory denylist.", nil, nil)
	descRevocations = prometheus.NewDesc("authserver_revocations_total",
		"Access tokens revoked through this instance.", nil, nil)
	descIntrospections = prometheus.NewDesc("authserver_introspections_total",
		"Token introspections, by answer.", []string{"active"}, nil)
	descCachedApps = prometheus.NewDesc("authserver_client_cache_apps",
		"Apps (clients) held in the client cache.", nil, nil)
	descPasswordHashes = prometheus.NewDesc("authserver_password_hashes_total",
		"argon2id hashes of test-user passwords computed (logins and registrations), each tens of milliseconds of one core.", nil, nil)
)

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descKeySetVersion, descRotations, descKeys, descStoreCommands, descStoreFailures,
		descRateLimited, descLimiterTracked, descRevoked, descRevocations, descIntrospections, descCachedApps, descPasswordHashes} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	s := c.src
	if s.Keys != nil {
		gauge(descKeySetVersion, float64(s.Keys.Version()))
		counter(descRotations, float64(s.Keys.Rotations()))
		states := map[string]int{storage.KeyNext: 0, storage.KeyActive: 0, storage.KeyRetired: 0, storage.KeyInactive: 0}
		for _, k := range s.Keys.KeySet().Keys {
			states[k.State]++
		}
		for state, n := range states {
			gauge(descKeys, float64(n), state)
		}
	}
	if s.Monitor != nil {
		for name, n := range s.Monitor.Counts() {
			counter(descStoreCommands, float64(n), name)
		}
		counter(descStoreFailures, float64(s.Monitor.Failures()), "command")
		counter(descStoreFailures, float64(s.Monitor.HeartbeatFailures()), "heartbeat")
	}
	var bySource, byClient uint64
	if s.Limiter != nil {
		bySource, byClient = s.Limiter.Limited()
		clients, sources := s.Limiter.Tracked()
		gauge(descLimiterTracked, float64(clients), "client")
		gauge(descLimiterTracked, float64(sources), "source")
	}
	counter(descRateLimited, float64(bySource), "source")
	counter(descRateLimited, float64(byClient), "client")
	if s.Logins != nil {
		bySource, byUser := s.Logins.Limited()
		counter(descRateLimited, float64(bySource), "login_source")
		counter(descRateLimited, float64(byUser), "login_user")
		users, sources := s.Logins.Tracked()
		gauge(descLimiterTracked, float64(users), "login_user")
		gauge(descLimiterTracked, float64(sources), "login_source")
	}
	counter(descRateLimited, float64(c.m.shed.Load()), "concurrency")
	if s.Revocations != nil {
		gauge(descRevoked, float64(s.Revocations.Len()))
		counter(descRevocations, float64(s.Revocations.RevokedHere()))
	}
	if s.Introspection != nil {
		active, inactive := s.Introspection.Counts()
		counter(descIntrospections, float64(active), "true")
		counter(descIntrospections, float64(inactive), "false")
	}
	if s.Clients != nil {
		gauge(descCachedApps, float64(s.Clients.Len()))
	}
	if s.Passwords != nil {
		counter(descPasswordHashes, float64(s.Passwords.PasswordHashes()))
	}
}
