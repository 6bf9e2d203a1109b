package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/authserver/authserver/metrics"
)

func TestLoggablePath(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "/oauth2/token", "/oauth2/token"},
		{"route with id", "/admin/v1/apps/app_live_abc", "/admin/v1/apps/app_live_abc"},
		{"secret", "/x/sk_live_abcdef/y", "/x/[redacted]/y"},
		{"account key", "/ak_abc", "/[redacted]"},
		{"JWT", "/oauth2/token/eyJhbGciOiJSUzI1NiJ9.e30.sig", "/oauth2/token/[redacted]"},
		{"long", "/" + string(make([]byte, 300)), "/" + string(make([]byte, maxLoggedPath-1)) + "..."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := loggablePath(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkChain measures what the middleware (request id, access log,
// metrics, concurrency cap, body limit) adds to a request that does
// nothing, with and without metrics.
func BenchmarkChain(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, bc := range []struct {
		name string
		inst Instruments
	}{{"no metrics", nil}, {"metrics", metrics.New(metrics.Sources{})}} {
		b.Run(bc.name, func(b *testing.B) {
			r := mux.NewRouter()
			r.HandleFunc("/oauth2/token", func(w http.ResponseWriter, r *http.Request) {}).Methods(http.MethodPost)
			h := chain(r, log, &listener{name: "public", instruments: bc.inst, writeError: writeOAuthError})
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// A handler that panics gets its listener's error shape, as JSON and
// uncached, with the request id; the panic's value stays in the log.
func TestChainRecoversPanics(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name, path, want string
		writeError       func(http.ResponseWriter, *http.Request, int, string, string)
	}{
		{"public", "/oauth2/token", `"error":"server_error"`, writeOAuthError},
		{"admin", "/admin/v1/apps", `"code":"server_error"`, writeAdminError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mux.NewRouter()
			r.HandleFunc(tc.path, func(http.ResponseWriter, *http.Request) { panic("sk_live_secret") })
			h := chain(r, log, &listener{name: tc.name, writeError: tc.writeError})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.path, nil))
			body := rec.Body.String()
			if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/json" ||
				rec.Header().Get("Cache-Control") != "no-store" || !strings.Contains(body, tc.want) ||
				!strings.Contains(body, rec.Header().Get("X-Request-Id")) || strings.Contains(body, "sk_live") {
				t.Fatalf("%d %v %s", rec.Code, rec.Header(), body)
			}
		})
	}
}
