package test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

func revoke(t testing.TB, in *testserver.Instance, app testserver.App, tok string) (int, map[string]any) {
	t.Helper()
	status, body, _ := postForm(t, in.PublicURL+"/oauth2/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, basic(app.ClientID, app.ClientSecret))
	return status, body
}

// RFC 7009: the client a token was issued to revokes it; introspection
// says inactive at once on this instance and within the refresh interval
// on another; the denylist entry lives until the token's exp and is then
// swept; revoking again, or revoking garbage, is a 200 that writes
// nothing.
func TestRevocation(t *testing.T) {
	t.Parallel()
	// Two replicas of one deployment: one issuer, one database.
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	in := testserver.Start(t, issuer)
	peer := startPeer(t, in, issuer)
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	app := in.CreateApp(t, map[string]any{"name": "a", "access_token_lifetime": "10m"})
	tok := token(t, in, app)
	kept := token(t, in, app)
	if !active(t, in, rs, tok) || !active(t, peer, rs, tok) {
		t.Fatal("fresh token inactive")
	}

	if status, body := revoke(t, in, app, tok); status != http.StatusOK || body != nil {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if active(t, in, rs, tok) {
		t.Fatal("revoked token still active on the instance that revoked it")
	}
	eventually(t, "revocation reaches the peer", func() bool { return !active(t, peer, rs, tok) })
	if !active(t, in, rs, kept) {
		t.Fatal("revoking one token revoked another of the same client")
	}
	revoked := in.DumpStore(t)["revoked"]
	if len(revoked) != 1 || !strings.Contains(revoked[0], app.ClientID) {
		t.Fatalf("denylist in the store: %v", revoked)
	}

	// Idempotent and silent: again, through either instance; unknown,
	// garbage, and an expired one. None writes.
	writes := in.Monitor.Writes()
	for name, tc := range map[string]struct {
		in  *testserver.Instance
		tok string
	}{
		"again":       {in, tok},
		"again, peer": {peer, tok},
		"garbage":     {in, "garbage"},
		"not ours":    {in, "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0."},
	} {
		if status, body := revoke(t, tc.in, app, tc.tok); status != http.StatusOK {
			t.Fatalf("%s: %d %v", name, status, body)
		}
	}
	if got := in.Monitor.Writes() - writes; got != 0 {
		t.Fatalf("idempotent revocations wrote %d times (this instance)", got)
	}

	// The entry outlives nothing: past the token's exp the sweep removes
	// it from memory and from the store.
	in.Clock.Advance(11 * time.Minute)
	if err := in.Server.Revocations.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := in.Server.Revocations.Len(); n != 0 {
		t.Fatalf("%d entries in memory after the sweep", n)
	}
	if got := in.DumpStore(t)["revoked"]; len(got) != 0 {
		t.Fatalf("entries in the store after the sweep: %v", got)
	}
	// An expired token is not revoked: nothing to do. (The clock jumped
	// past cache.max_staleness: requests get 503 until the caches'
	// next refresh.)
	eventually(t, "revoking an expired token answers 200", func() bool {
		status, _ := revoke(t, in, app, kept)
		return status == http.StatusOK
	})
	if got := in.DumpStore(t)["revoked"]; len(got) != 0 {
		t.Fatalf("revoking an expired token wrote %v", got)
	}
}

// Only the client a token was issued to may revoke it (RFC 7009 §2.1);
// the request needs client authentication and a token.
func TestRevocationRejects(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "a"})
	other := in.CreateApp(t, map[string]any{"name": "b"})
	tok := token(t, in, app)
	before := in.DumpStore(t)
	u := in.PublicURL + "/oauth2/revoke"
	tests := []rejection{
		{"another client's token", "", "token=" + tok, basic(other.ClientID, other.ClientSecret), 400, "unauthorized_client"},
		{"no credentials", "", "token=" + tok, "", 401, "invalid_client"},
		{"wrong secret", "", "token=" + tok, basic(app.ClientID, other.ClientSecret), 401, "invalid_client"},
		{"missing token", "", "token_type_hint=access_token", basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
		{"repeated token", "", "token=" + tok + "&token=" + tok, basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
		{"repeated hint", "", "token=" + tok + "&token_type_hint=a&token_type_hint=b", basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.post(t, u)
		})
	}
	assertStoreUnchanged(t, in, before)
	rs := in.CreateApp(t, map[string]any{"name": "rs"})
	if !active(t, in, rs, tok) {
		t.Fatal("a refused revocation revoked the token")
	}
}

// Two instances revoking the same token at once leave one entry; a
// restarted instance loads the denylist.
func TestRevocationConcurrentAndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := testserver.NewClock()
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	in := testserver.StartWith(t, testserver.Config(dir), clock, issuer)
	peer := startPeer(t, in, issuer)
	app := in.CreateApp(t, map[string]any{"name": "a"})
	tok := token(t, in, app)
	var wg sync.WaitGroup
	for _, inst := range []*testserver.Instance{in, peer, in, peer} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, body := revoke(t, inst, app, tok); status != http.StatusOK {
				t.Errorf("revoke: %d %v", status, body)
			}
		}()
	}
	wg.Wait()
	if got := in.DumpStore(t)["revoked"]; len(got) != 1 {
		t.Fatalf("denylist after concurrent revocations: %v", got)
	}
	peer.Stop(t)
	in.Stop(t)
	again := testserver.StartWith(t, testserver.Config(dir), clock, issuer)
	rs := again.CreateApp(t, map[string]any{"name": "rs"})
	if active(t, again, rs, tok) {
		t.Fatal("a revoked token is active after a restart")
	}
	if !active(t, again, rs, token(t, again, app)) {
		t.Fatal("a new token is inactive after a restart")
	}
}
