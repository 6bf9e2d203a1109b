package test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// The database goes away under a running server and comes back:
//   - /readyz fails while it is away;
//   - clients and keys already in memory keep getting tokens, and
//     introspection keeps answering (within cache.max_staleness: see
//     TestDatabaseOutageStalenessBound for what happens past it);
//   - a client not in memory gets 503 temporarily_unavailable with
//     Retry-After at once, as do revocations and admin writes, and none of
//     them writes anything, in part or in whole;
//   - when the database is back, everything resumes without a restart.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) {
		c.MongoDB.Timeout = 500 * time.Millisecond // fail fast while it is away
		c.Cache.UsageFlushInterval = time.Hour     // no bookkeeping writes in the comparison
	})
	cached := in.CreateApp(t, map[string]any{"name": "cached", "scopes": []string{"read"}})
	cachedToken := token(t, in, cached)
	// An app this instance has never seen: created through a peer.
	peer := startPeer(t, in)
	uncached := peer.CreateApp(t, map[string]any{"name": "uncached"})
	peer.Stop(t)
	tokenURL := in.PublicURL + "/oauth2/token"
	cc := url.Values{"grant_type": {"client_credentials"}}
	before := in.DumpStore(t)

	db := in.Server.Embedded()
	db.Stop()

	eventually(t, "/readyz fails", func() bool {
		return get(t, in.PublicURL+"/readyz").StatusCode == http.StatusServiceUnavailable
	})
	unavailable := func(t *testing.T, what string, status int, body map[string]any, hdr http.Header) {
		t.Helper()
		if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
			t.Fatalf("%s: %d %v", what, status, body)
		}
		if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 1 {
			t.Fatalf("%s: Retry-After %q", what, hdr.Get("Retry-After"))
		}
	}

	t.Run("while it is away", func(t *testing.T) {
		for i := range 3 {
			if status, body, _ := postForm(t, tokenURL, cc, basic(cached.ClientID, cached.ClientSecret)); status != http.StatusOK {
				t.Fatalf("cached client, token %d: %d %v", i, status, body)
			}
		}
		if !active(t, in, cached, cachedToken) {
			t.Fatal("introspection of a good token during the outage: inactive")
		}
		status, body, hdr := postForm(t, tokenURL, cc, basic(uncached.ClientID, uncached.ClientSecret))
		unavailable(t, "uncached client", status, body, hdr)
		status, body, hdr = postForm(t, in.PublicURL+"/oauth2/revoke", url.Values{"token": {cachedToken}}, basic(cached.ClientID, cached.ClientSecret))
		unavailable(t, "revocation", status, body, hdr)
		var created map[string]any
		if status := in.Admin(t, "", http.MethodPost, "/admin/v1/apps", map[string]any{"name": "during outage"}, &created); status != http.StatusServiceUnavailable {
			t.Fatalf("admin write: %d %v", status, created)
		}
	})

	if err := db.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/readyz recovers", func() bool {
		return get(t, in.PublicURL+"/readyz").StatusCode == http.StatusOK
	})
	// Nothing refused during the outage left a trace. (The tokens
	// issued meanwhile are recorded as the secret's last use: DumpStore
	// flushes that bookkeeping first.)
	after := in.DumpStore(t)
	delete(before, "secret_usage")
	delete(after, "secret_usage")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("the store changed during the outage:\nbefore %v\nafter  %v", before, after)
	}
	for _, app := range []testserver.App{cached, uncached} {
		eventually(t, "tokens again for "+app.ClientID, func() bool {
			status, _, _ := postForm(t, tokenURL, cc, basic(app.ClientID, app.ClientSecret))
			return status == http.StatusOK
		})
	}
	eventually(t, "introspection again", func() bool {
		status, _ := introspect(t, in, cached, cachedToken)
		return status == http.StatusOK
	})
	if status, body := revoke(t, in, cached, cachedToken); status != http.StatusOK {
		t.Fatalf("revocation after the outage: %d %v", status, body)
	}
	if active(t, in, cached, cachedToken) {
		t.Fatal("revoked after the outage, still active")
	}
	var created map[string]any
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/apps", map[string]any{"name": "after outage"}, &created); status != http.StatusCreated {
		t.Fatalf("admin write after the outage: %d %v", status, created)
	}
	if err := in.Server.Usage.Flush(context.Background()); err != nil {
		t.Fatalf("usage flush after the outage: %v", err)
	}
}

// Cached clients are served while the database is away for
// cache.max_staleness after the last good refresh, not forever: then token
// requests and introspection answer 503 temporarily_unavailable (the
// denylist and the apps can no longer be trusted), until the database is
// back.
func TestDatabaseOutageStalenessBound(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) {
		c.MongoDB.Timeout = 500 * time.Millisecond
		// Elapsed time, not the test clock; with room for a refresh loop
		// starved for a while on a busy machine under -race before the
		// database stops.
		c.Cache.MaxStaleness = 3 * time.Second
	})
	app := in.CreateApp(t, map[string]any{"name": "cached"})
	tok := token(t, in, app)
	tokenURL := in.PublicURL + "/oauth2/token"
	cc := url.Values{"grant_type": {"client_credentials"}}
	db := in.Server.Embedded()
	db.Stop()
	eventually(t, "token requests refused past the bound", func() bool {
		status, body, hdr := postForm(t, tokenURL, cc, basic(app.ClientID, app.ClientSecret))
		if status == http.StatusOK {
			return false
		}
		if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") == "" {
			t.Fatalf("past the bound: %d %v", status, body)
		}
		return true
	})
	status, body, hdr := postForm(t, in.PublicURL+"/oauth2/introspect", url.Values{"token": {tok}}, basic(app.ClientID, app.ClientSecret))
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") == "" {
		t.Fatalf("introspection past the bound: %d %v", status, body)
	}
	if err := db.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tokens again", func() bool {
		status, _, _ := postForm(t, tokenURL, cc, basic(app.ClientID, app.ClientSecret))
		return status == http.StatusOK
	})
	eventually(t, "introspection again", func() bool {
		status, body := introspect(t, in, app, tok)
		return status == http.StatusOK && body["active"] == true
	})
}
