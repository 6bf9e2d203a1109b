package test

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/test/testserver"
)

// lifecycleFixture is one app and the ids of its secrets by name: s0 is
// the secret the app was created with.
type lifecycleFixture struct {
	app     string
	secrets map[string]string
}

// The secret lifecycle as a table of transitions (seeds 000, 002, 003):
// each allowed one changes the store and is audited; each forbidden one
// answers its error and code and leaves the store exactly as it was.
func TestSecretLifecycleTransitions(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	secretsPath := func(f *lifecycleFixture, rest string) string {
		return "/admin/v1/apps/" + f.app + "/secrets" + rest
	}
	of := func(f *lifecycleFixture, name string) string { return f.secrets[name] }
	// Setup steps, each an allowed transition through the API.
	create := func(name string) func(*testing.T, *lifecycleFixture) {
		return func(t *testing.T, f *lifecycleFixture) { f.secrets[name] = createSecret(t, in, f.app).ID }
	}
	rotate := func(newName, grace string) func(*testing.T, *lifecycleFixture) {
		return func(t *testing.T, f *lifecycleFixture) {
			body := map[string]any{}
			if grace != "" {
				body["grace_period"] = grace
			}
			f.secrets[newName] = rotateSecret(t, in, f.app, body).ID
		}
	}
	act := func(action, name string) func(*testing.T, *lifecycleFixture) {
		return func(t *testing.T, f *lifecycleFixture) { secretAction(t, in, f.app, of(f, name), action) }
	}

	tests := []struct {
		name   string
		setup  []func(*testing.T, *lifecycleFixture)
		method string
		path   func(*lifecycleFixture) string
		body   map[string]any
		status int
		code   string // error code; "" for an allowed transition
		// want maps each secret name to its listed status after an allowed
		// transition ("gone" for deleted).
		want   map[string]string
		action string // the audited action of an allowed transition
	}{
		// Allowed.
		{name: "create a second active secret", method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "") }, status: 201,
			want: map[string]string{"s0": "active", "new": "active"}, action: "secret.create"},
		{name: "rotate with the default grace period", method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 201,
			want: map[string]string{"s0": "active", "new": "active"}, action: "secret.rotate"},
		{name: "rotate a named secret with a grace period of 1h", method: "POST", body: map[string]any{"secret_id": "s0", "grace_period": "1h"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 201,
			want: map[string]string{"s0": "active", "new": "active"}, action: "secret.rotate"},
		{name: "rotate with no grace period", method: "POST", body: map[string]any{"grace_period": "0s"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 201,
			want: map[string]string{"s0": "expired", "new": "active"}, action: "secret.rotate"},
		{name: "discard one of two active secrets", setup: []func(*testing.T, *lifecycleFixture){create("s1")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/discard") }, status: 200,
			want: map[string]string{"s0": "inactive", "s1": "active"}, action: "secret.discard"},
		{name: "discard the old secret during its grace period", setup: []func(*testing.T, *lifecycleFixture){rotate("s1", "")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/discard") }, status: 200,
			want: map[string]string{"s0": "inactive", "s1": "active"}, action: "secret.discard"},
		{name: "discard an expired secret", setup: []func(*testing.T, *lifecycleFixture){rotate("s1", "0s")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/discard") }, status: 200,
			want: map[string]string{"s0": "inactive", "s1": "active"}, action: "secret.discard"},
		{name: "reactivate an inactive secret", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/reactivate") }, status: 200,
			want: map[string]string{"s0": "active", "s1": "active"}, action: "secret.reactivate"},
		{name: "delete an inactive secret with confirmation", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0")}, method: "DELETE",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"?confirm="+of(f, "s0")) }, status: 204,
			want: map[string]string{"s0": "gone", "s1": "active"}, action: "secret.delete"},

		// Forbidden.
		{name: "a third active secret", setup: []func(*testing.T, *lifecycleFixture){create("s1")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "") }, status: 409, code: "too_many_active_secrets"},
		{name: "rotate with two active secrets", setup: []func(*testing.T, *lifecycleFixture){create("s1")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 409, code: "too_many_active_secrets"},
		{name: "rotate again during a grace period", setup: []func(*testing.T, *lifecycleFixture){rotate("s1", "")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 409, code: "too_many_active_secrets"},
		{name: "discard the last active secret", method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/discard") }, status: 409, code: "last_active_secret"},
		{name: "discard the new secret while the old one is in its grace period", setup: []func(*testing.T, *lifecycleFixture){rotate("s1", "")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s1")+"/discard") }, status: 409, code: "last_active_secret"},
		{name: "a second inactive secret", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0"), create("s2")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s1")+"/discard") }, status: 409, code: "too_many_inactive_secrets"},
		{name: "discard an inactive secret", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/discard") }, status: 409, code: "secret_inactive"},
		{name: "delete an active secret", setup: []func(*testing.T, *lifecycleFixture){create("s1")}, method: "DELETE",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"?confirm="+of(f, "s0")) }, status: 409, code: "secret_active"},
		{name: "delete without confirmation", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0")}, method: "DELETE",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")) }, status: 400, code: "confirmation_required"},
		{name: "delete confirmed with another id", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0")}, method: "DELETE",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"?confirm="+of(f, "s1")) }, status: 400, code: "confirmation_required"},
		{name: "reactivate an active secret", method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/reactivate") }, status: 409, code: "secret_active"},
		{name: "reactivate into a third active secret", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0"), create("s2")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/reactivate") }, status: 409, code: "too_many_active_secrets"},
		{name: "reactivate an expired secret", setup: []func(*testing.T, *lifecycleFixture){rotate("s1", "0s"), act("discard", "s0")}, method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/"+of(f, "s0")+"/reactivate") }, status: 409, code: "secret_expired"},
		{name: "rotate an inactive secret", setup: []func(*testing.T, *lifecycleFixture){create("s1"), act("discard", "s0")}, method: "POST", body: map[string]any{"secret_id": "s0"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 409, code: "secret_inactive"},
		{name: "rotate an expired secret", setup: []func(*testing.T, *lifecycleFixture){rotate("s1", "0s")}, method: "POST", body: map[string]any{"secret_id": "s0"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 409, code: "secret_expired"},
		{name: "a grace period beyond 30 days", method: "POST", body: map[string]any{"grace_period": "721h"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 400, code: "invalid_grace_period"},
		{name: "a negative grace period", method: "POST", body: map[string]any{"grace_period": "-1s"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 400, code: "invalid_grace_period"},
		{name: "a grace period that is no duration", method: "POST", body: map[string]any{"grace_period": "tomorrow"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 400, code: "invalid_grace_period"},
		{name: "an unknown field", method: "POST", body: map[string]any{"grace": "1h"},
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/rotate") }, status: 400, code: "invalid_json"},
		{name: "an unknown secret", method: "POST",
			path: func(f *lifecycleFixture) string { return secretsPath(f, "/sec_0000000000000000/discard") }, status: 404, code: "secret_not_found"},
		{name: "an unknown app", method: "POST",
			path: func(*lifecycleFixture) string { return "/admin/v1/apps/app_live_0000000000000000000000/secrets" }, status: 404, code: "not_found"},
	}
	var plaintexts []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := in.CreateApp(t, map[string]any{"name": tc.name, "scopes": []string{"read"}})
			plaintexts = append(plaintexts, app.ClientSecret)
			f := &lifecycleFixture{app: app.ClientID, secrets: map[string]string{"s0": app.SecretID}}
			for _, step := range tc.setup {
				step(t, f)
			}
			body := map[string]any(nil)
			if tc.body != nil {
				body = map[string]any{}
				for k, v := range tc.body {
					if id, ok := f.secrets[v.(string)]; ok && k == "secret_id" {
						v = id
					}
					body[k] = v
				}
			}
			before := in.DumpStore(t)
			resp := adminCall(t, in, "", tc.method, tc.path(f), body)
			if resp.status != tc.status || resp.code() != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", resp.status, resp.code(), resp.body, tc.status, tc.code)
			}
			if tc.code != "" {
				assertStoreUnchanged(t, in, before)
				return
			}
			if reflect.DeepEqual(before, in.DumpStore(t)) {
				t.Fatal("an allowed transition changed nothing in the store")
			}
			var created secretView
			if tc.status == 201 {
				resp.decode(t, &created)
				if !strings.HasPrefix(created.Secret, "sk_live_") || created.ID == "" || created.Status != "active" ||
					created.Masked != "sk_live_…"+created.Secret[len(created.Secret)-4:] {
					t.Fatalf("created secret %+v", created)
				}
				plaintexts = append(plaintexts, created.Secret)
				f.secrets["new"] = created.ID
			}
			got := listSecrets(t, in, f.app)
			listed := 0
			for name, want := range tc.want {
				s, ok := got[f.secrets[name]]
				if want != "gone" {
					listed++
				}
				switch {
				case want == "gone" && ok:
					t.Errorf("secret %s still listed: %+v", name, s)
				case want != "gone" && (!ok || s.Status != want):
					t.Errorf("secret %s: %+v, want status %s", name, s, want)
				}
			}
			if len(got) != listed {
				t.Errorf("%d secrets listed, want %d: %+v", len(got), listed, got)
			}
			// Rotations give the old secret the asked grace period.
			if tc.action == "secret.rotate" {
				grace := 24 * time.Hour
				if g, ok := tc.body["grace_period"].(string); ok {
					grace, _ = time.ParseDuration(g)
				}
				old := got[f.secrets["s0"]]
				// The clock stands still: the rotation happened when s0 was made.
				if old.ExpiresAt == nil || !old.ExpiresAt.Equal(old.CreatedAt.Add(grace)) {
					t.Errorf("rotated secret created %v expires at %v, want %v later", old.CreatedAt, old.ExpiresAt, grace)
				}
			}
			var events struct {
				Items []struct {
					Actor, Action, Target, Outcome, Source string
				} `json:"items"`
			}
			mustAdmin(t, in, 200, "GET", "/admin/v1/audit?app="+f.app+"&limit=1", nil, &events)
			if len(events.Items) != 1 || events.Items[0].Action != tc.action || events.Items[0].Outcome != "success" ||
				!strings.HasPrefix(events.Items[0].Actor, "acck_") || events.Items[0].Source != "127.0.0.1" {
				t.Errorf("latest audit event %+v, want a successful %s", events.Items, tc.action)
			}
		})
	}
	// Nothing stored anywhere holds a plaintext secret.
	assertNoneIn(t, "the store", dumpText(in.DumpStore(t)), plaintexts...)
	assertNoneIn(t, "the log", in.Logs.String(), plaintexts...)
}

// The rules hold under concurrent requests: each transition re-checks
// them inside one compare-and-swap update of the app, so two admins
// discarding the app's two active secrets at once leave one active, and
// concurrent creates never make a third active secret.
func TestConcurrentTransitionsKeepTheRules(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	for round := range 3 {
		app := in.CreateApp(t, map[string]any{"name": "race"})
		other := createSecret(t, in, app.ClientID)
		statuses := make(chan adminResp, 2)
		var wg sync.WaitGroup
		for _, id := range []string{app.SecretID, other.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- adminCallResending(t, in, "", "POST", "/admin/v1/apps/"+app.ClientID+"/secrets/"+id+"/discard", nil)
			}()
		}
		wg.Wait()
		close(statuses)
		ok, refused := 0, 0
		for r := range statuses {
			switch {
			case r.status == 200:
				ok++
			case r.status == 409 && (r.code() == "last_active_secret" || r.code() == "too_many_inactive_secrets"):
				refused++
			default:
				t.Fatalf("round %d: concurrent discard answered %d %s", round, r.status, r.body)
			}
		}
		active := 0
		for _, s := range listSecrets(t, in, app.ClientID) {
			if s.Status == "active" {
				active++
			}
		}
		if ok != 1 || refused != 1 || active != 1 {
			t.Fatalf("round %d: %d discards succeeded, %d refused, %d active secrets left; want 1, 1, 1", round, ok, refused, active)
		}

		// Four concurrent creates on an app with one active secret.
		fresh := in.CreateApp(t, map[string]any{"name": "race-create"})
		results := make(chan adminResp, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- adminCallResending(t, in, "", "POST", "/admin/v1/apps/"+fresh.ClientID+"/secrets", nil)
			}()
		}
		wg.Wait()
		close(results)
		created := 0
		for r := range results {
			switch {
			case r.status == 201:
				created++
			case r.status == 409 && r.code() == "too_many_active_secrets":
			default:
				t.Fatalf("round %d: concurrent create answered %d %s", round, r.status, r.body)
			}
		}
		if got := len(listSecrets(t, in, fresh.ClientID)); created != 1 || got != 2 {
			t.Fatalf("round %d: %d creates succeeded, %d secrets; want 1 and 2", round, created, got)
		}
	}
}
