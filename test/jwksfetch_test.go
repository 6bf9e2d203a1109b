package test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// A client that hangs up while the server fetches an app's jwks_uri does
// not break the app: the fetch goes on by itself, no back-off starts, and
// the app's own private_key_jwt request right after gets its token. (An
// attacker who knows the public App ID could otherwise send an assertion
// with an unknown kid and hang up, once per refetch interval, and keep
// the app's assertions failing.)
func TestJWKSURIFetchSurvivesHangUp(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "backend")
	key := newAppKey(t, jose.ES256, "ec-1")
	arrived, release := make(chan struct{}, 16), make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	var mu sync.Mutex
	requests := 0
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(jwksJSON(t, key))
	}))
	t.Cleanup(func() { open(); host.Close() })
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks_uri": host.URL + "/jwks.json"})

	// The attacker: an assertion with a kid nobody published, and a hang-up
	// as soon as the server is fetching.
	other := newAppKey(t, jose.ES256, "unknown")
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {signJWT(t, jose.ES256, other.priv, "unknown", clientAssertionClaims(in, app.ClientID))},
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.PublicURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hungUp := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		hungUp <- err
	}()
	<-arrived
	cancel()
	if err := <-hungUp; err == nil {
		t.Fatal("the attacker's request was answered before it hung up")
	}

	// The app's backend, right after.
	open()
	r := clientCredentials(t, in, signJWT(t, jose.ES256, key.priv, "ec-1", clientAssertionClaims(in, app.ClientID)), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("private_key_jwt after a hung-up fetch: %d %v", r.status, r.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 1 {
		t.Fatalf("jwks_uri requested %d times, want once", requests)
	}
}
