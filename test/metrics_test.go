package test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// scrape reads /metrics at base (a listener's URL) as Prometheus would.
func scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include want (a histogram's sample count), or -1 if there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// GET /metrics exposes what operators need, labelled by route template
// and server-chosen codes only: tokens by grant and algorithm, errors by
// code, latency per route, the key set, the store, the limits.
func TestMetrics(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) {
		c.Tokens.Algorithm = "ES256"
		c.Limits.ClientFailureBurst, c.Limits.ClientFailureInterval = 1, time.Hour
	})
	app := in.CreateApp(t, map[string]any{"name": "a"})
	for range 3 {
		token(t, in, app)
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	tokenURL := in.PublicURL + "/oauth2/token"
	// Two failures for one id from one source: a 401, then a 429.
	for _, want := range []int{401, 429} {
		if status, body, _ := postForm(t, tokenURL, cc, basic(app.ClientID, "sk_live_wrong")); status != want {
			t.Fatalf("got %d %v, want %d", status, body, want)
		}
	}
	rs := in.CreateApp(t, map[string]any{"name": "rs"})
	if status, body := introspect(t, in, rs, "not-a-token"); status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, body)
	}
	// Raw paths, however many, never become labels.
	for _, p := range []string{"/nope", "/sk_live_abc/def", "/admin/v1/apps/app_live_x"} {
		get(t, in.PublicURL+p)
	}
	var view map[string]any
	in.Admin(t, "", http.MethodGet, "/admin/v1/apps/"+app.ClientID, nil, &view)
	// A user token from /customer_authenticate counts under its grant.
	shop := createTestApp(t, in, "shop")
	createUser(t, in, shop.ClientID, "alice", "correct horse battery", "")
	if r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{
		"client_id": {shop.ClientID}, "username": {"alice"}, "password": {"correct horse battery"},
	}, nil); r.status != http.StatusOK {
		t.Fatalf("customer_authenticate: %d %v", r.status, r.body)
	}

	fams := scrape(t, in.AdminURL)
	checks := []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
	}{
		{"authserver_tokens_issued_total", map[string]string{"grant": "client_credentials", "alg": "ES256"}, eq(3)},
		{"authserver_tokens_issued_total", map[string]string{"grant": "urn:authserver:params:oauth:grant-type:test-user", "alg": "ES256"}, eq(1)},
		{"authserver_http_request_duration_seconds", map[string]string{"listener": "public", "route": "/customer_authenticate"}, eq(1)},
		{"authserver_http_errors_total", map[string]string{"listener": "public", "route": "/oauth2/token", "error": "invalid_client"}, eq(1)},
		{"authserver_http_errors_total", map[string]string{"listener": "public", "route": "/oauth2/token", "error": "temporarily_unavailable"}, eq(1)},
		{"authserver_http_errors_total", map[string]string{"listener": "public", "route": "unmatched", "error": "not_found"}, eq(3)},
		{"authserver_http_request_duration_seconds", map[string]string{"listener": "public", "route": "/oauth2/token"}, eq(5)},
		{"authserver_http_request_duration_seconds", map[string]string{"listener": "public", "route": "/oauth2/introspect"}, eq(1)},
		{"authserver_http_request_duration_seconds", map[string]string{"listener": "admin", "route": "/admin/v1/apps/{id}"}, eq(1)},
		{"authserver_http_responses_total", map[string]string{"listener": "public", "route": "/oauth2/token", "class": "2xx"}, eq(3)},
		{"authserver_rate_limited_requests_total", map[string]string{"reason": "client"}, eq(1)},
		{"authserver_rate_limited_requests_total", map[string]string{"reason": "concurrency"}, eq(0)},
		{"authserver_introspections_total", map[string]string{"active": "false"}, eq(1)},
		{"authserver_signing_key_set_version", nil, eq(1)},
		{"authserver_signing_key_rotations_total", nil, eq(0)},
		{"authserver_signing_keys", map[string]string{"state": "active"}, eq(1)},
		{"authserver_store_commands_total", map[string]string{"command": "insert"}, atLeast(1)},
		{"authserver_store_errors_total", map[string]string{"kind": "command"}, atLeast(0)},
		{"authserver_client_cache_apps", nil, atLeast(1)},
		{"go_goroutines", nil, atLeast(1)},
	}
	for _, c := range checks {
		if got := value(fams, c.name, c.labels); !c.want(got) {
			t.Errorf("%s%v = %v", c.name, c.labels, got)
		}
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "sk_") || strings.Contains(l.GetValue(), "app_live_") || l.GetValue() == "/nope" {
					t.Errorf("%s has a label from client input: %s=%s", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func eq(want float64) func(float64) bool     { return func(v float64) bool { return v == want } }
func atLeast(min float64) func(float64) bool { return func(v float64) bool { return v >= min } }

// The public listener serves no metrics: the admin listener's series (its
// per-route refusals, the app cache, the limiter's state) and the public
// one's are for operators, on the admin listener or metrics.addr.
func TestPublicListenerServesNoMetrics(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	// Give the admin listener series of its own: a refused request.
	if status := in.Admin(t, "-", http.MethodGet, "/admin/v1/apps", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("admin request without a key: %d", status)
	}
	resp, err := http.Get(in.PublicURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("public GET /metrics: %d, want 404", resp.StatusCode)
	}
	for _, series := range []string{`listener="admin"`, "authserver_client_cache_apps", "authserver_auth_limiter_tracked", "go_goroutines"} {
		if strings.Contains(string(body), series) {
			t.Errorf("the public listener exposes %s", series)
		}
	}
	// The admin listener has them.
	fams := scrape(t, in.AdminURL)
	if v := value(fams, "authserver_http_responses_total", map[string]string{"listener": "admin", "route": "/admin/v1/apps", "class": "4xx"}); v != 1 {
		t.Errorf("admin 4xx on /admin/v1/apps = %v, want 1", v)
	}
}

// metrics.addr moves /metrics to a listener of its own, for a scraper that
// cannot reach the admin listener: it serves the series of both
// listeners, and neither of them serves /metrics any more.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) { c.Metrics.Addr = "127.0.0.1:0" })
	in.Admin(t, "-", http.MethodGet, "/admin/v1/apps", nil, nil)
	addr := in.Server.MetricsAddr()
	if addr == "" {
		t.Fatal("no metrics listener")
	}
	fams := scrape(t, "http://"+addr)
	if v := value(fams, "authserver_http_responses_total", map[string]string{"listener": "admin", "route": "/admin/v1/apps", "class": "4xx"}); v != 1 {
		t.Errorf("admin 4xx on /admin/v1/apps = %v, want 1", v)
	}
	if v := value(fams, "go_goroutines", nil); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
	for _, base := range []string{in.PublicURL, in.AdminURL} {
		if got := get(t, base+"/metrics").StatusCode; got != http.StatusNotFound {
			t.Errorf("%s/metrics: %d, want 404", base, got)
		}
	}
	if got := get(t, "http://"+addr+"/oauth2/token").StatusCode; got != http.StatusNotFound {
		t.Errorf("the metrics listener serves other paths: %d", got)
	}
}
