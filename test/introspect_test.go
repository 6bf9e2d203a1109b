package test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/test/testserver"
)

// An active token's introspection (RFC 7662 §2.2) carries the claims of
// the token as a resource server decodes them itself (go-jose), plus
// token_type and the credential scope; asking writes nothing.
func TestIntrospectionActive(t *testing.T) {
	t.Parallel()
	// No last-used flush on a timer: the token request below leaves one
	// pending, and a tick between the two write counts would be counted.
	in := testserver.Start(t, func(c *server.Config) { c.Cache.UsageFlushInterval = time.Hour })
	app := in.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read", "write"}, "audiences": []string{api}})
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	tok := token(t, in, app)
	claims, _, err := verifyToken(tok, fetchJWKS(t, in.PublicURL), in.PublicURL, api, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writes := in.Monitor.Writes()
	status, body := introspect(t, in, rs, tok)
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, body)
	}
	want := map[string]any{
		"active": true, "scope": "read write", "client_id": app.ClientID, "sub": app.ClientID,
		"aud": []any{api}, "exp": float64(claims.Expiry.Time().Unix()), "iat": float64(claims.IssuedAt.Time().Unix()),
		"iss": in.PublicURL, "jti": claims.ID, "token_type": "Bearer", "credential_scope": "app",
	}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("introspection\n got  %v\n want %v", body, want)
	}
	// client_secret_post works too, and the client may ask about its own
	// token.
	status, body, hdr := postForm(t, in.PublicURL+"/oauth2/introspect", url.Values{
		"token": {tok}, "token_type_hint": {"access_token"}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
	}, "")
	if status != http.StatusOK || body["active"] != true {
		t.Fatalf("client_secret_post: %d %v", status, body)
	}
	if hdr.Get("Cache-Control") != "no-store" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("headers %v", hdr)
	}
	if got := in.Monitor.Writes() - writes; got != 0 {
		t.Fatalf("introspection wrote %d times to the database", got)
	}
}

// Introspection says active:false, and nothing else, for each way a token
// stops being good: expiry, revocation, its signing key discarded or
// deleted, its secret discarded or deleted, its app disabled, another
// issuer, and anything that is not one of our tokens. State changes are
// made in the data model (key set and app documents) exactly as the key
// and secret lifecycle writes them, so that the checks hold whichever API
// makes the change.
func TestIntrospectionInactive(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	store := openStore(t, in)
	ctx := context.Background()
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	newApp := func(t *testing.T, extra map[string]any) testserver.App {
		req := map[string]any{"name": "a", "scopes": []string{"read"}}
		for k, v := range extra {
			req[k] = v
		}
		return in.CreateApp(t, req)
	}
	updateApp := func(t *testing.T, id string, f func(*storage.App)) {
		if _, err := store.UpdateApp(ctx, id, func(a *storage.App) error { f(a); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	updateKeys := func(t *testing.T, f func(*storage.KeySet)) {
		if _, err := store.UpdateKeySet(ctx, func(ks *storage.KeySet) error { f(ks); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := in.Server.Keys.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// rotateAway makes a new key active and gives the old one state.
	rotateAway := func(t *testing.T, state string) string {
		oldKID, _ := in.Server.Keys.ActiveKey()
		key, err := in.Server.Keys.NewKey(signingkeys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		updateKeys(t, func(ks *storage.KeySet) {
			for i := range ks.Keys {
				if ks.Keys[i].KID == oldKID {
					ks.Keys[i].PriorState, ks.Keys[i].State = ks.Keys[i].State, state
					// A retired key without remove_at is past its retention:
					// the rotation loop would remove it at its next tick.
					ks.Keys[i].RetiredAt, ks.Keys[i].RemoveAt = in.Clock.Now().UTC(), in.Clock.Now().UTC().Add(time.Hour)
				}
			}
			key.State = storage.KeyActive
			ks.Keys = append(ks.Keys, key)
		})
		return oldKID
	}
	// genuine returns a fresh token that introspects as active.
	genuine := func(t *testing.T) string {
		tok := token(t, in, newApp(t, nil))
		if !active(t, in, rs, tok) {
			t.Fatal("a fresh token is inactive")
		}
		return tok
	}
	forge := func(tok string, header map[string]any, payload func(map[string]any), sign func(string) string) string {
		parts := strings.Split(tok, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		_ = json.Unmarshal(raw, &claims)
		if payload != nil {
			payload(claims)
		}
		h, _ := json.Marshal(header)
		p, _ := json.Marshal(claims)
		input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
		if sign == nil {
			return input + "." + parts[2]
		}
		return input + "." + sign(input)
	}

	tests := []struct {
		name string
		// inactive returns a token that must introspect as inactive
		// after change (nil: at once). A genuine token is checked to be
		// active before the change, so that no case passes because
		// introspection said no to everything; forged ones check their
		// source. The caches catch up with a change within their refresh
		// interval, so the final check polls.
		inactive func(t *testing.T) (tok string, change func())
	}{
		{"expired", func(t *testing.T) (string, func()) {
			app := newApp(t, map[string]any{"access_token_lifetime": "30s"})
			return token(t, in, app), func() { in.Clock.Advance(31 * time.Second) }
		}},
		{"revoked", func(t *testing.T) (string, func()) {
			app := newApp(t, nil)
			tok := token(t, in, app)
			return tok, func() {
				if status, body, _ := postForm(t, in.PublicURL+"/oauth2/revoke", url.Values{"token": {tok}}, basic(app.ClientID, app.ClientSecret)); status != http.StatusOK {
					t.Fatalf("revoke: %d %v", status, body)
				}
			}
		}},
		{"signing key discarded", func(t *testing.T) (string, func()) {
			return token(t, in, newApp(t, nil)), func() { rotateAway(t, storage.KeyInactive) }
		}},
		{"signing key deleted", func(t *testing.T) (string, func()) {
			tok := token(t, in, newApp(t, nil))
			oldKID := rotateAway(t, storage.KeyRetired)
			// Retired, it still verifies (checked before the change).
			return tok, func() {
				updateKeys(t, func(ks *storage.KeySet) {
					kept := ks.Keys[:0]
					for _, k := range ks.Keys {
						if k.KID != oldKID {
							kept = append(kept, k)
						}
					}
					ks.Keys = kept
				})
			}
		}},
		{"secret discarded", func(t *testing.T) (string, func()) {
			app := newApp(t, nil)
			return token(t, in, app), func() {
				updateApp(t, app.ClientID, func(a *storage.App) {
					a.Secrets[0].Status, a.Secrets[0].DiscardedAt = storage.SecretInactive, time.Now().UTC()
					a.Secrets = append(a.Secrets, storage.Secret{ID: "sec_second", Digest: make([]byte, 32), Status: storage.SecretActive})
				})
			}
		}},
		{"secret deleted", func(t *testing.T) (string, func()) {
			app := newApp(t, nil)
			return token(t, in, app), func() {
				updateApp(t, app.ClientID, func(a *storage.App) {
					a.Secrets = []storage.Secret{{ID: "sec_other", Digest: make([]byte, 32), Status: storage.SecretActive}}
				})
			}
		}},
		{"app disabled", func(t *testing.T) (string, func()) {
			app := newApp(t, nil)
			return token(t, in, app), func() { updateApp(t, app.ClientID, func(a *storage.App) { a.Enabled = false }) }
		}},
		{"another issuer", func(t *testing.T) (string, func()) {
			// A peer on the same database and keys, but another issuer.
			peer := startPeer(t, in)
			tok := token(t, peer, rs)
			if !active(t, peer, rs, tok) {
				t.Fatal("inactive at its own issuer")
			}
			return tok, nil
		}},
		{"payload changed", func(t *testing.T) (string, func()) {
			kid, _ := in.Server.Keys.ActiveKey()
			return forge(genuine(t), map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}, func(c map[string]any) { c["scope"] = "admin" }, nil), nil
		}},
		{"typ not at+jwt", func(t *testing.T) (string, func()) {
			kid, _ := in.Server.Keys.ActiveKey()
			return forge(genuine(t), map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, nil, nil), nil
		}},
		{"alg none", func(t *testing.T) (string, func()) {
			kid, _ := in.Server.Keys.ActiveKey()
			return forge(genuine(t), map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}, nil, func(string) string { return "" }), nil
		}},
		{"HS256 signed with the client's secret", func(t *testing.T) (string, func()) {
			app := newApp(t, nil)
			tok := token(t, in, app)
			kid, _ := in.Server.Keys.ActiveKey()
			return forge(tok, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, nil, func(input string) string {
				m := hmac.New(sha256.New, []byte(app.ClientSecret))
				m.Write([]byte(input))
				return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
			}), nil
		}},
		{"unknown kid", func(t *testing.T) (string, func()) {
			return forge(genuine(t), map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "no-such-key"}, nil, nil), nil
		}},
		{"not a JWT", func(t *testing.T) (string, func()) { return "not-a-token", nil }},
		{"huge", func(t *testing.T) (string, func()) { return strings.Repeat("A", 60<<10), nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, change := tc.inactive(t)
			if change != nil {
				if !active(t, in, rs, tok) {
					t.Fatal("the token is inactive before the change")
				}
				change()
			}
			eventually(t, "token becomes inactive", func() bool { return !active(t, in, rs, tok) })
		})
	}
}

// What a discard takes away, a reactivation gives back: the checks are
// made against the current state at every request, not remembered.
func TestIntrospectionFollowsReactivation(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	store := openStore(t, in)
	ctx := context.Background()
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	app := in.CreateApp(t, map[string]any{"name": "a"})
	tok := token(t, in, app)
	setSecret := func(status string) {
		if _, err := store.UpdateApp(ctx, app.ClientID, func(a *storage.App) error {
			a.Secrets[0].Status = status
			if len(a.Secrets) == 1 {
				a.Secrets = append(a.Secrets, storage.Secret{ID: "sec_second", Digest: make([]byte, 32), Status: storage.SecretActive})
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setSecret(storage.SecretInactive)
	eventually(t, "inactive after discard", func() bool { return !active(t, in, rs, tok) })
	setSecret(storage.SecretActive)
	eventually(t, "active after reactivation", func() bool { return active(t, in, rs, tok) })
}

// Only authenticated clients may introspect, with the token endpoint's
// client authentication and its errors.
func TestIntrospectionRequiresClientAuthentication(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "a"})
	other := in.CreateApp(t, map[string]any{"name": "b"})
	tok := token(t, in, app)
	u := in.PublicURL + "/oauth2/introspect"
	tests := []rejection{
		{"no credentials", "", "token=" + tok, "", 401, "invalid_client"},
		{"wrong secret", "", "token=" + tok, basic(app.ClientID, other.ClientSecret), 401, "invalid_client"},
		{"unknown client", "", "token=" + tok, basic("app_live_0000000000000000000000", app.ClientSecret), 401, "invalid_client"},
		{"bearer token as credential", "", "token=" + tok, "Bearer " + tok, 401, "invalid_client"},
		{"two methods", "", "token=" + tok + "&client_id=" + app.ClientID + "&client_secret=" + url.QueryEscape(app.ClientSecret), basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
		{"missing token", "", "token_type_hint=access_token", basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
		{"repeated token", "", "token=a&token=b", basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
		{"JSON body", "application/json", `{"token":"` + tok + `"}`, basic(app.ClientID, app.ClientSecret), 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, hdr := tc.post(t, u)
			if tc.status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("401 without WWW-Authenticate")
			}
		})
	}
}

// The same answers through the lifecycle APIs of the admin listener: the
// secret rotated, discarded, reactivated, deleted; the signing key rotated
// at once, discarded, reactivated, deleted; the app disabled and enabled.
// Each applies at once on the instance that made it.
func TestIntrospectionFollowsTheLifecycleAPIs(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	rs := in.CreateApp(t, map[string]any{"name": "resource server"})
	app := in.CreateApp(t, map[string]any{"name": "a"})
	admin := func(method, path string, body any, wantStatus int) map[string]any {
		t.Helper()
		var out map[string]any
		if status := in.Admin(t, "", method, path, body, &out); status != wantStatus {
			t.Fatalf("%s %s: %d %v", method, path, status, out)
		}
		return out
	}
	check := func(what, tok string, want bool) {
		t.Helper()
		if got := active(t, in, rs, tok); got != want {
			t.Fatalf("%s: active %v, want %v", what, got, want)
		}
	}
	appPath := "/admin/v1/apps/" + app.ClientID
	first := token(t, in, app)
	check("fresh", first, true)

	// Secrets.
	rotated := admin(http.MethodPost, appPath+"/secrets/rotate", map[string]any{"grace_period": "1h"}, http.StatusCreated)
	second := testserver.App{ClientID: app.ClientID, ClientSecret: rotated["client_secret"].(string)}
	check("first secret rotating", first, true)
	secretPath := appPath + "/secrets/" + app.SecretID
	admin(http.MethodPost, secretPath+"/discard", nil, http.StatusOK)
	check("first secret discarded", first, false)
	admin(http.MethodPost, secretPath+"/reactivate", nil, http.StatusOK)
	check("first secret reactivated", first, true)
	admin(http.MethodPost, secretPath+"/discard", nil, http.StatusOK)
	admin(http.MethodDelete, secretPath+"?confirm="+app.SecretID, nil, http.StatusNoContent)
	check("first secret deleted", first, false)

	// Signing keys.
	tok := token(t, in, second)
	oldKID, _ := in.Server.Keys.ActiveKey()
	admin(http.MethodPost, "/admin/v1/signing-keys/rotate", map[string]any{"immediate": true}, http.StatusOK)
	check("its key retired by an immediate rotation", tok, true)
	keyPath := "/admin/v1/signing-keys/" + oldKID
	admin(http.MethodPost, keyPath+"/discard", nil, http.StatusOK)
	check("its key discarded", tok, false)
	admin(http.MethodPost, keyPath+"/reactivate", nil, http.StatusOK)
	check("its key reactivated", tok, true)
	admin(http.MethodPost, keyPath+"/discard", nil, http.StatusOK)
	admin(http.MethodDelete, keyPath+"?confirm="+oldKID, nil, http.StatusNoContent)
	check("its key deleted", tok, false)

	// The app.
	tok = token(t, in, second)
	admin(http.MethodPost, appPath+"/disable", nil, http.StatusOK)
	check("app disabled", tok, false)
	admin(http.MethodPost, appPath+"/enable", nil, http.StatusOK)
	check("app enabled", tok, true)
}
