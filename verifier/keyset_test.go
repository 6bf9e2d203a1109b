package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/verifier"
)

// stallingJWKS serves a JWKS only once released: each request waits for
// release (or for its own client to go away), so a test can act while a
// fetch is in flight. arrived receives one value per request.
type stallingJWKS struct {
	*httptest.Server
	arrived chan struct{}
	release chan struct{}
	once    sync.Once

	mu       sync.Mutex
	requests int
	answer   func(w http.ResponseWriter)
}

func newStallingJWKS(t testing.TB, keys ...jose.JSONWebKey) *stallingJWKS {
	s := &stallingJWKS{arrived: make(chan struct{}, 64), release: make(chan struct{})}
	s.answer = func(w http.ResponseWriter) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		answer := s.answer
		s.mu.Unlock()
		s.arrived <- struct{}{}
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
		answer(w)
	}))
	t.Cleanup(func() { s.open(); s.Close() })
	return s
}

// open lets every waiting and future request through.
func (s *stallingJWKS) open() { s.once.Do(func() { close(s.release) }) }

func (s *stallingJWKS) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// A caller that gives up while the JWKS is being fetched neither aborts
// the fetch nor starts the back-off: the fetch runs on its own context,
// callers arriving meanwhile wait for that one fetch, and all of them get
// the keys (one cancelled Verify must not make every caller fail for the
// refetch interval).
func TestKeySetFetchOutlivesCancelledCaller(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	k := newRSAKey(t, "k1")
	srv := newStallingJWKS(t, k.pub)
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, k.alg, k.priv, "k1", "at+jwt", baseClaims(clk.Now()))

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, token)
		first <- err
	}()
	<-srv.arrived
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) || !errors.Is(err, verifier.ErrKeySetUnavailable) {
		t.Fatalf("the cancelled caller: %v", err)
	}

	results := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := v.Verify(context.Background(), token)
			results <- err
		}()
	}
	srv.open()
	for range 3 {
		if err := <-results; err != nil {
			t.Fatalf("a caller after the cancelled one: %v", err)
		}
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("the JWKS was requested %d times, want once", n)
	}
}

// A caller waiting for a fetch in flight leaves when its own context ends;
// the fetch goes on and serves the next caller without a second request.
func TestKeySetWaitEndsWithCallerContext(t *testing.T) {
	k := newRSAKey(t, "k1")
	srv := newStallingJWKS(t, k.pub)
	ks := verifier.NewRemoteKeySet(srv.URL, verifier.KeySetOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ks.Keys(ctx, "k1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a caller whose deadline passed during the fetch: %v", err)
	}
	srv.open()
	if keys, err := ks.Keys(context.Background(), "k1"); err != nil || len(keys) != 1 {
		t.Fatalf("the next caller: %v %v", keys, err)
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("the JWKS was requested %d times, want once", n)
	}
}

// A real failure upstream (no answer within FetchTimeout, a status other
// than 200, a document that is no JWKS or is too large) starts the
// back-off: no new request until RefetchInterval has passed, then one.
func TestKeySetBacksOffAfterUpstreamFailure(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		stall  bool
	}{
		{"timeout", nil, true},
		{"status 502", func(w http.ResponseWriter) { http.Error(w, "down", http.StatusBadGateway) }, false},
		{"not a JWKS", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`[1,2]`)) }, false},
		{"too large", func(w http.ResponseWriter) { _, _ = w.Write(make([]byte, 2048)) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1_800_000_000, 0)}
			srv := newStallingJWKS(t)
			if tc.stall {
				srv.answer = func(w http.ResponseWriter) { http.Error(w, "late", http.StatusGatewayTimeout) }
			} else {
				srv.answer = tc.answer
				srv.open()
			}
			ks := verifier.NewRemoteKeySet(srv.URL, verifier.KeySetOptions{
				FetchTimeout: 100 * time.Millisecond, RefetchInterval: 30 * time.Second, MaxBytes: 1024, Now: clk.Now,
			})
			for i := range 2 {
				if _, err := ks.Keys(context.Background(), "k1"); !errors.Is(err, verifier.ErrKeySetUnavailable) {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
			if n := srv.count(); n != 1 {
				t.Fatalf("%d requests within the refetch interval, want 1", n)
			}
			clk.Advance(30 * time.Second)
			_, _ = ks.Keys(context.Background(), "k1")
			if n := srv.count(); n != 2 {
				t.Fatalf("%d requests after the refetch interval, want 2", n)
			}
		})
	}
}
