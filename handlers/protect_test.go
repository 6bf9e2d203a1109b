package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
