package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/adminapi"
)

// routeRecorder is Instruments that records the route templates mounted
// and the one the last request matched.
type routeRecorder struct {
	mu      sync.Mutex
	routes  []string
	matched string
}

func (r *routeRecorder) RouteObserver(listener, route string) func(int, time.Duration, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if listener == "admin" {
		r.routes = append(r.routes, route)
	}
	return func(int, time.Duration, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.matched = route
	}
}
func (*routeRecorder) TokenIssued(string, string) {}
func (*routeRecorder) Shed()                      {}

// The admin API's document names every admin route the router mounts,
// with each of its methods, and nothing else: a route added without its
// contract, or a contract without its route, fails here. Every route but
// the document's own needs an account key.
func TestAdminRoutesAreTheDocument(t *testing.T) {
	rec := &routeRecorder{}
	h := NewAdminRouter(Admin{Users: &UserAdmin{}, Instruments: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})

	var mounted []string
	for _, tpl := range rec.routes {
		if !strings.HasPrefix(tpl, "/admin/v1/") {
			continue
		}
		path := strings.NewReplacer("{id}", "x", "{sid}", "x", "{kid}", "x", "{username}", "x").Replace(tpl)
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
			if w.Code == http.StatusMethodNotAllowed || rec.matched != tpl {
				continue // or another route's, e.g. /secrets/{sid} for DELETE /secrets/rotate
			}
			op := method + " " + tpl
			mounted = append(mounted, op)
			want := http.StatusUnauthorized
			if tpl == "/admin/v1/openapi.json" {
				want = http.StatusOK
			}
			if w.Code != want {
				t.Errorf("%s without a key: %d, want %d", op, w.Code, want)
			}
		}
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(adminapi.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			if method != "parameters" {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(mounted)
	slices.Sort(documented)
	if !slices.Equal(mounted, documented) {
		t.Errorf("the router mounts\n  %s\nthe document describes\n  %s", strings.Join(mounted, "\n  "), strings.Join(documented, "\n  "))
	}
	if len(mounted) < 30 {
		t.Errorf("only %d admin operations found", len(mounted))
	}
}

// GET /admin/v1/openapi.json answers the document as JSON, without a key.
func TestOpenAPIDocumentRoute(t *testing.T) {
	h := NewAdminRouter(Admin{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/v1/openapi.json", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || !bytes.Equal(w.Body.Bytes(), adminapi.Document()) {
		t.Fatalf("%d %v, body of %d bytes", w.Code, w.Header(), w.Body.Len())
	}
}
