package test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/test/testserver"
)

// A create retried with the same Idempotency-Key never makes a second
// app, secret or account key: the retry answers 200 with the first
// request's resource, masked, and the code secret_already_issued, since
// the plaintext is stored nowhere, not even for a replay.
func TestIdempotentCreates(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	ctx := context.Background()
	var shown []string

	// Apps.
	body := map[string]any{"name": "idem", "scopes": []string{"read"}}
	var first, again struct {
		ID       string                 `json:"app_id"`
		Secret   string                 `json:"client_secret"`
		SecretID string                 `json:"secret_id"`
		Secrets  []secretView           `json:"secrets"`
		Replay   *struct{ Code string } `json:"replay"`
	}
	mustAdmin(t, in, 201, "POST", "/admin/v1/apps", body, &first, "Idempotency-Key", "app-1")
	shown = append(shown, first.Secret)
	r := mustAdmin(t, in, 200, "POST", "/admin/v1/apps", body, &again, "Idempotency-Key", "app-1")
	if again.ID != first.ID || again.SecretID != first.SecretID || again.Secret != "" || again.Replay == nil ||
		again.Replay.Code != "secret_already_issued" || r.header.Get("Idempotent-Replayed") != "true" || len(again.Secrets) != 1 {
		t.Fatalf("replayed app create: %s", r.body)
	}
	var apps struct {
		Items []struct {
			ID string `json:"app_id"`
		} `json:"items"`
	}
	mustAdmin(t, in, 200, "GET", "/admin/v1/apps", nil, &apps)
	if len(apps.Items) != 1 {
		t.Fatalf("%d apps after a retried create, want 1", len(apps.Items))
	}
	// The same key for another request is refused and changes nothing.
	before := in.DumpStore(t)
	if r := adminCall(t, in, "", "POST", "/admin/v1/apps", map[string]any{"name": "other"}, "Idempotency-Key", "app-1"); r.status != 409 || r.code() != "idempotency_key_reused" {
		t.Fatalf("key reused for another request: %d %s", r.status, r.body)
	}
	for _, key := range []string{strings.Repeat("k", 256), "tab\there"} {
		if r := adminCall(t, in, "", "POST", "/admin/v1/apps", body, "Idempotency-Key", key); r.status != 400 || r.code() != "invalid_idempotency_key" {
			t.Fatalf("malformed key: %d %s", r.status, r.body)
		}
	}
	assertStoreUnchanged(t, in, before)

	// Secrets: eight concurrent copies of one request make one secret.
	secretsURL := "/admin/v1/apps/" + first.ID + "/secrets"
	var wg sync.WaitGroup
	results := make([]adminResp, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = adminCallResending(t, in, "", "POST", secretsURL, nil, "Idempotency-Key", "secret-1")
		}()
	}
	wg.Wait()
	created, replayed, id := 0, 0, ""
	for _, r := range results {
		var s secretView
		r.decode(t, &s)
		switch {
		case r.status == 201 && s.Secret != "" && s.Replay == nil:
			created++
			shown = append(shown, s.Secret)
		case r.status == 200 && s.Secret == "" && s.Replay != nil && s.Replay.Code == "secret_already_issued":
			replayed++
		default:
			t.Fatalf("concurrent create: %d %s", r.status, r.body)
		}
		if id != "" && s.ID != id {
			t.Fatalf("concurrent creates answered different secrets: %s and %s", id, s.ID)
		}
		id = s.ID
	}
	if created != 1 || replayed != 7 {
		t.Fatalf("%d created, %d replayed; want 1 and 7", created, replayed)
	}
	if got := listSecrets(t, in, first.ID); len(got) != 2 {
		t.Fatalf("%d secrets after 8 copies of one create, want 2", len(got))
	}

	// A refused create releases its key: the store is as it was, and the
	// same request succeeds once the app has room.
	before = in.DumpStore(t)
	if r := adminCall(t, in, "", "POST", secretsURL, nil, "Idempotency-Key", "secret-2"); r.status != 409 || r.code() != "too_many_active_secrets" {
		t.Fatalf("third secret: %d %s", r.status, r.body)
	}
	assertStoreUnchanged(t, in, before)
	secretAction(t, in, first.ID, first.SecretID, "discard")
	var s2 secretView
	mustAdmin(t, in, 201, "POST", secretsURL, nil, &s2, "Idempotency-Key", "secret-2")
	shown = append(shown, s2.Secret)

	// Rotations.
	other := in.CreateApp(t, map[string]any{"name": "rotate-idem"})
	shown = append(shown, other.ClientSecret)
	rot := map[string]any{"grace_period": "2h"}
	var r1, r2 rotated
	mustAdmin(t, in, 201, "POST", "/admin/v1/apps/"+other.ClientID+"/secrets/rotate", rot, &r1, "Idempotency-Key", "rot-1")
	shown = append(shown, r1.Secret)
	mustAdmin(t, in, 200, "POST", "/admin/v1/apps/"+other.ClientID+"/secrets/rotate", rot, &r2, "Idempotency-Key", "rot-1")
	if r2.ID != r1.ID || r2.Secret != "" || r2.Replay == nil {
		t.Fatalf("replayed rotation %+v", r2)
	}
	if got := listSecrets(t, in, other.ClientID); len(got) != 2 {
		t.Fatalf("%d secrets after a retried rotation, want 2", len(got))
	}

	// Account keys; keys are per actor: another actor's same key is its own.
	var k1, k2 struct {
		ID     string                 `json:"key_id"`
		Key    string                 `json:"key"`
		Replay *struct{ Code string } `json:"replay"`
	}
	ak := map[string]any{"name": "ci", "role": "admin"}
	mustAdmin(t, in, 201, "POST", "/admin/v1/account-keys", ak, &k1, "Idempotency-Key", "ak-1")
	shown = append(shown, k1.Key)
	mustAdmin(t, in, 200, "POST", "/admin/v1/account-keys", ak, &k2, "Idempotency-Key", "ak-1")
	if k2.ID != k1.ID || k2.Key != "" || k2.Replay == nil {
		t.Fatalf("replayed account key %+v", k2)
	}
	var s3 secretView
	if r := adminCall(t, in, k1.Key, "POST", "/admin/v1/apps/"+other.ClientID+"/secrets/"+other.SecretID+"/discard", nil); r.status != 200 {
		t.Fatalf("discard as the new admin key: %d %s", r.status, r.body)
	}
	r = adminCall(t, in, k1.Key, "POST", "/admin/v1/apps/"+other.ClientID+"/secrets", nil, "Idempotency-Key", "secret-1")
	r.decode(t, &s3)
	if r.status != 201 || s3.Secret == "" {
		t.Fatalf("another actor's use of the same key: %d %s", r.status, r.body)
	}
	shown = append(shown, s3.Secret)

	// Keys expire after 24h: queries ignore them at once, the sweep
	// deletes them, and the key is free again.
	in.Clock.Advance(24 * time.Hour)
	var third struct {
		ID     string `json:"app_id"`
		Secret string `json:"client_secret"`
	}
	mustAdmin(t, in, 201, "POST", "/admin/v1/apps", body, &third, "Idempotency-Key", "app-1")
	if third.ID == first.ID || third.Secret == "" {
		t.Fatalf("a create after the key expired: %+v", third)
	}
	shown = append(shown, third.Secret)
	// The server's own sweep runs within a second of the clock's jump, so
	// it may have deleted some or all of them already: between the two
	// sweeps, all 5 expired keys go and the fresh one stays.
	n, err := in.Server.Idempotency.Sweep(ctx)
	if err != nil || n > 5 {
		t.Fatalf("sweep: %d, %v; want at most the 5 expired keys deleted", n, err)
	}
	if left := in.DumpStore(t)["idempotency"]; len(left) != 1 {
		t.Fatalf("%d idempotency keys after the sweep, want only the fresh one: %v", len(left), left)
	}

	// No plaintext anywhere in the store or the log.
	assertNoneIn(t, "the store", dumpText(in.DumpStore(t)), shown...)
	assertNoneIn(t, "the log", in.Logs.String(), shown...)
}
