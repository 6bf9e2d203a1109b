package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver/authserver/test/testserver"
)

// H is only a fair reference if its bodies are exactly as large as the
// server's and are JSON of the same shape.
func TestTrivialBodies(t *testing.T) {
	for _, n := range []int{660, 1013, 2000} {
		body := trivialTokenBody(n)
		var tr struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if len(body) != n || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" || tr.TokenType != "bearer" {
			t.Fatalf("token body of %d: got %d bytes %.60q", n, len(body), body)
		}
		jwks := trivialJWKSBody(n)
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		if len(jwks) != n || json.Unmarshal(jwks, &set) != nil || len(set.Keys) != 1 {
			t.Fatalf("jwks body of %d: got %d bytes", n, len(jwks))
		}
	}
}

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.999, 7 * time.Millisecond},
		{"median of ten is the fifth", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.5, 5 * time.Millisecond},
		{"p99 of ten is the last", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{"p0 is the first", ms(3, 4), 0, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantile(tc.sorted, tc.q); got != tc.want {
				t.Fatalf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestFloor(t *testing.T) {
	// 1/(1/10000 + 1/10000): two costs of 100 µs make 200 µs a request.
	if got := floor(10000, 10000); got != 5000 {
		t.Fatalf("floor = %v, want 5000", got)
	}
	if got := floor(0, 10000); got != 0 {
		t.Fatalf("floor with no H = %v, want 0", got)
	}
}

// run counts good answers, bad statuses and failed checks apart, and its
// latencies are ordered; a targeter that runs out ends the run without
// counting as an error.
func TestRunCountsAnswers(t *testing.T) {
	srv := httptest.NewServer(trivialHandler(700, 300))
	defer srv.Close()
	good := tokenTarget(srv.URL+"/token", client{ID: "a", Secret: "b"})
	bad := good
	bad.Body = []byte("grant_type=password") // the trivial handler answers 401
	o := run(load{name: "test", conns: 4, duration: time.Minute,
		targets: roundRobin([]vegeta.Target{good, good, bad}, 30), check: sizeIs(700)})
	if o.requests != 30 || o.ok != 20 || o.errorCount() != 10 || o.errors["status 401"] != 10 {
		t.Fatalf("requests %d ok %d errors %v", o.requests, o.ok, o.errors)
	}
	if o.p50 <= 0 || o.p50 > o.p99 || o.p99 > o.p999 || o.p999 > o.max {
		t.Fatalf("latencies out of order: p50 %v p99 %v p99.9 %v max %v", o.p50, o.p99, o.p999, o.max)
	}
	if len(o.sample) != 700 {
		t.Fatalf("sample of %d bytes", len(o.sample))
	}

	o = run(load{name: "size", conns: 2, duration: time.Minute,
		targets: roundRobin([]vegeta.Target{good}, 5), check: sizeIs(701)})
	if o.ok != 0 || o.errorCount() != 5 {
		t.Fatalf("a failed check must count as an error: ok %d errors %v", o.ok, o.errors)
	}
}

// Seeded apps are real apps: the server, started on the seeded data
// directory, issues tokens to them through a standard OAuth 2.0 client.
func TestSeededAppsGetTokens(t *testing.T) {
	dir := t.TempDir()
	clients, _, err := seedApps(context.Background(), dir, 2500, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 3 {
		t.Fatalf("kept %d clients, want 3", len(clients))
	}
	in := testserver.StartWith(t, testserver.Config(dir), testserver.NewClock())
	for _, c := range clients {
		cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: in.PublicURL + "/oauth2/token",
			Scopes: []string{"read"}, EndpointParams: url.Values{"audience": {audience}}}
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatalf("token for seeded app %s: %v", c.ID, err)
		}
	}
	wrong := clientcredentials.Config{ClientID: clients[0].ID, ClientSecret: clients[1].Secret, TokenURL: in.PublicURL + "/oauth2/token"}
	if _, err := wrong.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("another app's secret: %v, want invalid_client", err)
	}
	var app struct {
		ID string `json:"client_id"`
	}
	if status := in.Admin(t, "", http.MethodGet, "/admin/v1/apps/"+clients[2].ID, nil, &app); status != http.StatusOK || app.ID != clients[2].ID {
		t.Fatalf("admin API on a seeded app: status %d, %+v", status, app)
	}
}

// luaString quotes any string so that Lua reads it back unchanged.
func TestLuaString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"POST", "[[POST]]"},
		{"a]]b", "[=[a]]b]=]"},
		{"a]]b]=]c", "[==[a]]b]=]c]==]"},
		{"\nx", "[[\n\nx]]"},
		{`Basic "x"\n`, `[[Basic "x"\n]]`},
	} {
		if got := luaString(c.in); got != c.want {
			t.Errorf("luaString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// With wrk (Debian's package; skipped where it is not installed), a run
// counts good answers, answers above 399 as errors, and checks one body.
func TestRunWithWrk(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("no wrk on PATH (apt-get install wrk)")
	}
	srv := httptest.NewServer(trivialHandler(700, 300))
	defer srv.Close()
	good := tokenTarget(srv.URL+"/token", client{ID: "a", Secret: "b"})
	o := run(load{name: "wrk", conns: 4, duration: time.Second, targets: roundRobin([]vegeta.Target{good}, 0), check: sizeIs(700), wrk: wrk})
	if o.ok == 0 || o.errorCount() != 0 || o.perSecond <= 0 || len(o.sample) != 700 {
		t.Fatalf("good requests: ok %d of %d, errors %v, %.0f/s, sample %d bytes", o.ok, o.requests, o.errors, o.perSecond, len(o.sample))
	}
	if o.p50 <= 0 || o.p50 > o.p99 || o.p99 > o.p999 || o.p999 > o.max {
		t.Fatalf("latencies out of order: p50 %v p99 %v p99.9 %v max %v", o.p50, o.p99, o.p999, o.max)
	}
	bad := good
	bad.Body = []byte("grant_type=password") // the trivial handler answers 401
	o = run(load{name: "wrk bad", conns: 4, duration: time.Second, targets: roundRobin([]vegeta.Target{bad}, 0), wrk: wrk})
	if o.ok != 0 || o.requests == 0 || o.errors["status above 399"] != o.requests {
		t.Fatalf("401 answers: ok %d of %d, errors %v", o.ok, o.requests, o.errors)
	}
}
