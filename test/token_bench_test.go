package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
)

// Benchmarks of whole requests through the public handler: the production
// middleware, router, fosite, client authentication and signer, driven
// in-process (no TCP), so that allocs/op is the server's allocations per
// issued token. Run with
//
//	go test ./test -run '^$' -bench . -benchmem
//
// The server logs at info, as shipped, through a text handler into
// io.Discard: the access-log line is formatted but not written.

// benchServer starts a server with a quiet logger (the testserver package
// keeps every log line in memory, which a benchmark would grow without
// bound) and returns it with an app's credentials.
func benchServer(b *testing.B, alg string) (*server.Server, string, string) {
	b.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.Public.Addr, cfg.Admin.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Tokens.Algorithm = alg
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(context.Background(), cfg, server.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin.key"))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"name": "bench", "scopes": []string{"read"}, "audiences": []string{api}})
	req, _ := http.NewRequest(http.MethodPost, "http://"+srv.AdminAddr()+"/admin/v1/apps", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&app); err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("create app: status %d, %v", resp.StatusCode, err)
	}
	return srv, app.ClientID, app.ClientSecret
}

// BenchmarkTokenEndpoint issues one client credentials token per
// iteration (client_secret_basic); allocs/op is allocations per issued
// token.
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			srv, id, secret := benchServer(b, alg)
			h := srv.PublicHandler()
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
			auth := benchBasic(id, secret)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkTokenEndpointParallel is BenchmarkTokenEndpoint on every core.
func BenchmarkTokenEndpointParallel(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			srv, id, secret := benchServer(b, alg)
			h := srv.PublicHandler()
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
			auth := benchBasic(id, secret)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.Header.Set("Authorization", auth)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkJWKS serves the JWKS, whole (200) and to a cache that holds it
// (If-None-Match, 304).
func BenchmarkJWKS(b *testing.B) {
	srv, _, _ := benchServer(b, "RS256")
	h := srv.PublicHandler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	etag := w.Header().Get("ETag")
	for _, tc := range []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{"200", "", http.StatusOK},
		{"304", etag, http.StatusNotModified},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
				if tc.ifNoneMatch != "" {
					r.Header.Set("If-None-Match", tc.ifNoneMatch)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.status {
					b.Fatalf("status %d, want %d", w.Code, tc.status)
				}
			}
		})
	}
}

// benchBasic is the RFC 6749 §2.3.1 Basic Authorization header: each part
// form-encoded.
func benchBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// BenchmarkTrivialHandler is the floor of BenchmarkTokenEndpoint: the same
// requests and recorder through a handler that only parses the form,
// decodes Basic credentials and writes a token-sized JSON body. The
// difference in allocs/op is what the server adds per token.
func BenchmarkTrivialHandler(b *testing.B) {
	body := []byte(`{"access_token":"` + strings.Repeat("x", 570) + `","expires_in":3600,"scope":"read","token_type":"bearer"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if _, _, ok := r.BasicAuth(); !ok || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	auth := benchBasic("app_live_4Yd0QnS1bK3hZr8vT2mWxE", "sk_live_secret")
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkIntrospection introspects a valid JWT (RFC 7662) as the client
// that obtained it: client authentication, the signature checked against
// the key its kid names, the denylist looked up in memory.
func BenchmarkIntrospection(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			srv, id, secret := benchServer(b, alg)
			h := srv.PublicHandler()
			auth := benchBasic(id, secret)
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=read"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
				b.Fatalf("token: status %d %s", w.Code, w.Body)
			}
			form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}.Encode()
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/introspect", strings.NewReader(form))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":true`) {
					b.Fatalf("introspect: status %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
