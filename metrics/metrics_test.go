package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The per-request instruments allocate nothing once a route, an error code
// or a grant and algorithm pair has been seen: the token endpoint is the
// hot path.
func TestInstrumentsDoNotAllocate(t *testing.T) {
	m := New(Sources{})
	observe := m.RouteObserver("public", "/oauth2/token")
	observe(401, time.Millisecond, "invalid_client")
	m.TokenIssued("client_credentials", "RS256")
	tests := []struct {
		name string
		fn   func()
	}{
		{"success", func() { observe(200, time.Millisecond, "") }},
		{"error", func() { observe(401, time.Millisecond, "invalid_client") }},
		{"token issued", func() { m.TokenIssued("client_credentials", "RS256") }},
		{"shed", m.Shed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.fn); n != 0 {
				t.Fatalf("%v allocations per call", n)
			}
		})
	}
}

// With no sources at all the exposition still works, and what was
// observed shows up under the route template.
func TestHandlerWithoutSources(t *testing.T) {
	m := New(Sources{})
	m.RouteObserver("admin", "/admin/v1/apps/{id}")(404, time.Millisecond, "not_found")
	m.TokenIssued("client_credentials", "EdDSA")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`authserver_http_errors_total{error="not_found",listener="admin",route="/admin/v1/apps/{id}"} 1`,
		`authserver_tokens_issued_total{alg="EdDSA",grant="client_credentials"} 1`,
		`authserver_rate_limited_requests_total{reason="concurrency"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func BenchmarkRouteObserver(b *testing.B) {
	observe := New(Sources{}).RouteObserver("public", "/oauth2/token")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			observe(200, 800*time.Microsecond, "")
		}
	})
}
