package test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver/authserver/storage/mongodb"
	"github.com/authserver/authserver/test/testserver"
)

// startPeer starts a second instance on first's database (as another
// replica of a deployment would run), with first's clock and KEK.
func startPeer(t testing.TB, first *testserver.Instance, opts ...testserver.Option) *testserver.Instance {
	t.Helper()
	cfg := testserver.Config(t.TempDir())
	cfg.MongoDB.URI = first.Server.StoreURI()
	kek, err := os.ReadFile(filepath.Join(first.Config.DataDir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.KEK = strings.TrimSpace(string(kek))
	peer := testserver.StartWith(t, cfg, first.Clock, opts...)
	peer.AdminKey = first.AdminKey
	return peer
}

// openStore opens the instance's database through the real driver, for
// tests that change what another engineer's admin API will change (a key
// discarded, a secret deleted) directly in the data model.
func openStore(t testing.TB, in *testserver.Instance) *mongodb.Store {
	t.Helper()
	s, err := mongodb.Open(context.Background(), mongodb.Options{URI: in.Server.StoreURI(), Database: in.Config.MongoDB.Database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// token gets an access token for app from in with the x/oauth2 client.
func token(t testing.TB, in *testserver.Instance, app testserver.App) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: in.PublicURL + "/oauth2/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", app.ClientID, err)
	}
	return tok.AccessToken
}

// introspect asks in about tok as the client app, with HTTP Basic.
func introspect(t testing.TB, in *testserver.Instance, app testserver.App, tok string) (int, map[string]any) {
	t.Helper()
	status, body, _ := postForm(t, in.PublicURL+"/oauth2/introspect", url.Values{"token": {tok}}, basic(app.ClientID, app.ClientSecret))
	return status, body
}

// active introspects tok and fails the test unless the answer is a 200.
func active(t testing.TB, in *testserver.Instance, app testserver.App, tok string) bool {
	t.Helper()
	status, body := introspect(t, in, app, tok)
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, body)
	}
	a, ok := body["active"].(bool)
	if !ok {
		t.Fatalf("introspect: no active member: %v", body)
	}
	if !a && len(body) != 1 {
		t.Fatalf("an inactive token's introspection says more than active:false: %v", body)
	}
	return a
}

// eventually polls cond every 20 ms until it holds, failing the test if
// it does not within 15 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll(t, what, 20*time.Millisecond, 15*time.Second, cond)
}

// poll checks cond every interval until it holds, failing the test if it
// does not within timeout: tests wait for background work this way, never
// by sleeping a fixed time. The timeout bounds a hang; it measures nothing.
func poll(t testing.TB, what string, interval, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, timeout)
		case <-tick.C:
		}
	}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (127.0.0.0/8 is all loopback on Linux), so that a
// test can play several sources.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 30 * time.Second}
}
