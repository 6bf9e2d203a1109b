package test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// tokenFor gets a token with a standard OAuth 2.0 client; it returns the
// token or the error.
func tokenFor(tokenURL, clientID, secret string) (*oauth2.Token, error) {
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
	return cc.Token(context.Background())
}

// isInvalidClient reports whether err is the token endpoint's
// invalid_client answer (RFC 6749 §5.2).
func isInvalidClient(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_client" && re.Response.StatusCode == http.StatusUnauthorized
}

// Rotation without downtime (seeds 000, 003): a client keeps getting
// tokens while the secret is rotated and while it switches from the old
// secret to the new one; the old secret works until the end of its grace
// period on the server's clock and fails from then on.
func TestRotationWithoutDowntime(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	tokenURL := in.PublicURL + "/oauth2/token"
	app := in.CreateApp(t, map[string]any{"name": "rotating", "scopes": []string{"read"}})

	// The client's current secret, which the "deployment" switches.
	var current atomic.Pointer[string]
	current.Store(&app.ClientSecret)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := tokenFor(tokenURL, app.ClientID, *current.Load()); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				continue
			}
			ok.Add(1)
		}
	}()
	waitFor := func(what string, cond func() bool) { t.Helper(); eventually(t, what, cond) }
	waitFor("tokens with the old secret", func() bool { return ok.Load() >= 5 })

	r := rotateSecret(t, in, app.ClientID, nil) // default grace period: 24h
	if r.Rotated.ID != app.SecretID || r.Rotated.ExpiresAt == nil || r.Rotated.Status != "active" {
		t.Fatalf("rotated %+v", r.Rotated)
	}
	if got := r.Rotated.ExpiresAt.Sub(in.Clock.Now()); got < 24*time.Hour-time.Second || got > 24*time.Hour {
		t.Fatalf("grace period %v, want 24h", got)
	}
	n := ok.Load()
	waitFor("tokens with the old secret after the rotation", func() bool { return ok.Load() >= n+5 })
	current.Store(&r.Secret) // the client switches to the new secret
	n = ok.Load()
	waitFor("tokens with the new secret", func() bool { return ok.Load() >= n+5 })
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d token requests failed during the rotation; first: %v", failed.Load(), firstErr.Load())
	}

	// Both secrets work during the grace period, and the tokens say which
	// secret minted them.
	for _, c := range []struct{ secret, id string }{{app.ClientSecret, app.SecretID}, {r.Secret, r.ID}} {
		tok, err := tokenFor(tokenURL, app.ClientID, c.secret)
		if err != nil {
			t.Fatalf("during the grace period: %v", err)
		}
		claims, _, err := verifyToken(tok.AccessToken, fetchJWKS(t, in.PublicURL), in.PublicURL, in.PublicURL, in.Clock.Now())
		if err != nil || claims.SecretID != c.id || claims.CredentialScope != "app" {
			t.Fatalf("token claims %+v, %v; want secret_id %s", claims, err, c.id)
		}
	}

	in.Clock.Advance(24*time.Hour - time.Second)
	if _, err := tokenAfterClockJump(t, tokenURL, app.ClientID, app.ClientSecret); err != nil {
		t.Fatalf("old secret one second before the end of its grace period: %v", err)
	}
	in.Clock.Advance(time.Second)
	if _, err := tokenAfterClockJump(t, tokenURL, app.ClientID, app.ClientSecret); !isInvalidClient(err) {
		t.Fatalf("old secret after its grace period: got %v, want invalid_client", err)
	}
	if _, err := tokenAfterClockJump(t, tokenURL, app.ClientID, r.Secret); err != nil {
		t.Fatalf("new secret after the grace period: %v", err)
	}
	listed := listSecrets(t, in, app.ClientID)
	if listed[app.SecretID].Status != "expired" || listed[r.ID].Status != "active" || listed[r.ID].ExpiresAt != nil {
		t.Fatalf("after the grace period: %+v", listed)
	}
	assertNoneIn(t, "the log", in.Logs.String(), app.ClientSecret, r.Secret)
}

// A discarded secret is refused at once on the instance that discarded it
// and, within the cache refresh interval, on a second instance sharing the
// database; tokens it minted become inactive for introspection; reactivating
// it brings it back on both.
func TestDiscardAppliesOnEveryInstance(t *testing.T) {
	t.Parallel()
	first := testserver.Start(t)
	kek, err := os.ReadFile(filepath.Join(first.Config.DataDir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	second := testserver.StartWith(t, testserver.Config(t.TempDir()), first.Clock, func(c *server.Config) {
		c.MongoDB.URI = first.Server.StoreURI()
		c.KEK = strings.TrimSpace(string(kek))
	})
	second.AdminKey = first.AdminKey // one account, shared through the database
	app := first.CreateApp(t, map[string]any{"name": "shared", "scopes": []string{"read"}})
	extra := createSecret(t, first, app.ClientID)
	// Both instances have the app cached and accept both secrets.
	for _, in := range []*testserver.Instance{first, second} {
		for _, secret := range []string{app.ClientSecret, extra.Secret} {
			if _, err := tokenFor(in.PublicURL+"/oauth2/token", app.ClientID, secret); err != nil {
				t.Fatalf("before the discard: %v", err)
			}
		}
	}
	tok, err := tokenFor(second.PublicURL+"/oauth2/token", app.ClientID, app.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	claims, _, err := verifyToken(tok.AccessToken, fetchJWKS(t, second.PublicURL), second.PublicURL, second.PublicURL, first.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if active, err := first.Server.Clients.CredentialActive(ctx, claims.ClientID, claims.SecretID, ""); err != nil || !active {
		t.Fatalf("credential of a fresh token: active=%v, %v", active, err)
	}

	secretAction(t, first, app.ClientID, app.SecretID, "discard")
	// At once on the instance that discarded it.
	if _, err := tokenFor(first.PublicURL+"/oauth2/token", app.ClientID, app.ClientSecret); !isInvalidClient(err) {
		t.Fatalf("discarded secret on the first instance: got %v, want invalid_client", err)
	}
	if active, _ := first.Server.Clients.CredentialActive(ctx, claims.ClientID, claims.SecretID, ""); active {
		t.Fatal("a token minted by the discarded secret is still backed on the first instance")
	}
	// Within the refresh interval on the second.
	eventually(t, "the second instance refuses the discarded secret", func() bool {
		_, err := tokenFor(second.PublicURL+"/oauth2/token", app.ClientID, app.ClientSecret)
		return isInvalidClient(err)
	})
	if active, _ := second.Server.Clients.CredentialActive(ctx, claims.ClientID, claims.SecretID, ""); active {
		t.Fatal("a token minted by the discarded secret is still backed on the second instance")
	}
	// The other secret keeps working everywhere.
	for _, in := range []*testserver.Instance{first, second} {
		if _, err := tokenFor(in.PublicURL+"/oauth2/token", app.ClientID, extra.Secret); err != nil {
			t.Fatalf("the remaining secret: %v", err)
		}
	}

	// Reactivation, also made on the second instance, applies on the first.
	secretAction(t, second, app.ClientID, app.SecretID, "reactivate")
	eventually(t, "the first instance accepts the reactivated secret", func() bool {
		_, err := tokenFor(first.PublicURL+"/oauth2/token", app.ClientID, app.ClientSecret)
		return err == nil
	})
	if active, _ := first.Server.Clients.CredentialActive(ctx, claims.ClientID, claims.SecretID, ""); !active {
		t.Fatal("the reactivated secret does not back its tokens")
	}

	// Disabling the app stops every secret and every token of it.
	mustAdmin(t, first, http.StatusOK, http.MethodPost, "/admin/v1/apps/"+app.ClientID+"/disable", nil, nil)
	for _, secret := range []string{app.ClientSecret, extra.Secret} {
		if _, err := tokenFor(first.PublicURL+"/oauth2/token", app.ClientID, secret); !isInvalidClient(err) {
			t.Fatalf("disabled app: got %v, want invalid_client", err)
		}
	}
	eventually(t, "the second instance refuses the disabled app", func() bool {
		_, err := tokenFor(second.PublicURL+"/oauth2/token", app.ClientID, extra.Secret)
		return isInvalidClient(err)
	})
	if active, _ := second.Server.Clients.CredentialActive(ctx, claims.ClientID, claims.SecretID, ""); active {
		t.Fatal("a token of a disabled app is still backed")
	}
	mustAdmin(t, first, http.StatusOK, http.MethodPost, "/admin/v1/apps/"+app.ClientID+"/enable", nil, nil)
	if _, err := tokenFor(first.PublicURL+"/oauth2/token", app.ClientID, extra.Secret); err != nil {
		t.Fatalf("re-enabled app: %v", err)
	}

	// Deleting the secret (discard first) makes its tokens inactive for good.
	secretAction(t, first, app.ClientID, app.SecretID, "discard")
	mustAdmin(t, first, http.StatusNoContent, http.MethodDelete, "/admin/v1/apps/"+app.ClientID+"/secrets/"+app.SecretID+"?confirm="+app.SecretID, nil, nil)
	eventually(t, "the second instance forgets the deleted secret", func() bool {
		active, err := second.Server.Clients.CredentialActive(ctx, claims.ClientID, claims.SecretID, "")
		return err == nil && !active
	})
	for _, in := range []*testserver.Instance{first, second} {
		assertNoneIn(t, "the log", in.Logs.String(), app.ClientSecret, extra.Secret, tok.AccessToken)
	}
}

// tokenAfterClockJump is tokenFor right after the test clock was moved:
// until the client cache's next refresh notices the new time, the cache
// looks stale (cache.max_staleness) and the server answers 503
// temporarily_unavailable, which is retried; any other answer is
// returned.
func tokenAfterClockJump(t testing.TB, tokenURL, clientID, secret string) (tok *oauth2.Token, err error) {
	t.Helper()
	eventually(t, "the client cache catches up with the clock", func() bool {
		tok, err = tokenFor(tokenURL, clientID, secret)
		var re *oauth2.RetrieveError
		return !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable
	})
	return tok, err
}
