package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"github.com/authserver/authserver/verifier/dpop"
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

// fakeDPoPEndpoint is a token endpoint that checks each request's DPoP
// proof with the dpop package (one use each, iat within 60 s) and answers
// a token bound to its key, or token_type bearer when unbinding is set.
func fakeDPoPEndpoint(t *testing.T, unbinding bool, jkt string) *httptest.Server {
	t.Helper()
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Verify(r.Context(), dpop.Request{Proofs: r.Header.Values("DPoP"), Method: r.Method, URI: srv.URL + r.URL.Path})
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_dpop_proof"}`))
			return
		}
		bound := jkt
		if bound == "" {
			bound = p.JKT
		}
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"cnf":{"jkt":"` + bound + `"}}`))
		typ := "DPoP"
		if unbinding {
			typ = "bearer"
		}
		_, _ = w.Write([]byte(`{"access_token":"e30.` + payload + `.c2ln","token_type":"` + typ + `","expires_in":300}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// payloadOf is the claims of a token, unverified (the fake's tokens are
// not signed).
func payloadOf(tok string) ([]byte, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS")
	}
	return base64.RawURLEncoding.DecodeString(parts[1])
}

// The DPoP phase's proofs: one per request, each accepted once by a
// server that checks them (a second run of the same targets is all
// replays), for every proof algorithm, dated proofLead ahead so that they
// outlive their making and the run.
func TestDPoPProofTargets(t *testing.T) {
	for _, alg := range dpopAlgs {
		t.Run(alg, func(t *testing.T) {
			key, err := proofKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			srv := fakeDPoPEndpoint(t, false, "")
			start := time.Now()
			targets, err := makeProofTargets(srv.URL+"/token", client{ID: "a", Secret: "b"}, key, alg, 40, time.Minute)
			if err != nil || len(targets) != 40 {
				t.Fatalf("%d targets, %v", len(targets), err)
			}
			claims, _ := payloadOf(targets[7].Header.Get("DPoP"))
			var c struct {
				IAT int64 `json:"iat"`
			}
			if json.Unmarshal(claims, &c) != nil || c.IAT < start.Add(proofLead-time.Second).Unix() || c.IAT > time.Now().Add(proofLead).Unix() {
				t.Fatalf("iat %d, want %s ahead of %d", c.IAT, proofLead, start.Unix())
			}
			o := run(load{name: "dpop", conns: 4, duration: time.Minute, targets: roundRobin(targets, len(targets)), check: isDPoPToken})
			if o.requests != 40 || o.ok != 40 {
				t.Fatalf("fresh proofs: ok %d of %d, errors %v", o.ok, o.requests, o.errors)
			}
			o = run(load{name: "replay", conns: 4, duration: time.Minute, targets: roundRobin(targets, len(targets)), check: isDPoPToken})
			if o.ok != 0 || o.errors["status 400"] != 40 {
				t.Fatalf("replayed proofs: ok %d, errors %v", o.ok, o.errors)
			}
		})
	}
	// The making stops at its budget and keeps what it made.
	key, _ := proofKey("RS256")
	targets, err := makeProofTargets("https://as.example/token", client{ID: "a", Secret: "b"}, key, "RS256", 1_000_000, 50*time.Millisecond)
	if err != nil || len(targets) == 0 || len(targets) == 1_000_000 {
		t.Fatalf("budget: %d targets, %v", len(targets), err)
	}
}

// The phase runs only against a server that binds tokens: one that
// answers bearer is skipped, one that binds to another key is an error.
func TestDPoPCheckBinding(t *testing.T) {
	key, _ := proofKey("ES256")
	ctx := context.Background()
	c := client{ID: "a", Secret: "b"}
	srv := fakeDPoPEndpoint(t, false, "")
	if err := checkBinding(ctx, srv.URL+"/token", c, key, "ES256", payloadOf); err != nil {
		t.Fatalf("binding server: %v", err)
	}
	srv = fakeDPoPEndpoint(t, true, "")
	if err := checkBinding(ctx, srv.URL+"/token", c, key, "ES256", payloadOf); !errors.Is(err, errSkipped) {
		t.Fatalf("server answering bearer: %v", err)
	}
	srv = fakeDPoPEndpoint(t, false, strings.Repeat("A", 43))
	if err := checkBinding(ctx, srv.URL+"/token", c, key, "ES256", payloadOf); err == nil || errors.Is(err, errSkipped) {
		t.Fatalf("token bound to another key: %v", err)
	}
}
