package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/test/testserver"
)

// cli runs the authserver command with args against in's admin API as
// the given account key, and returns what it printed.
func cli(t *testing.T, in *testserver.Instance, key string, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--admin-url", in.AdminURL, "--admin-key", key))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// cliJSON runs a command with -o json and decodes its output into v.
func cliJSON(t *testing.T, in *testserver.Instance, v any, args ...string) {
	t.Helper()
	out, err := cli(t, in, in.AdminKey, append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("authserver %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("authserver %s: output %q: %v", strings.Join(args, " "), out, err)
	}
}

// apiCode returns the admin API error code of a failed command.
func apiCode(err error) string {
	var e *apiError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The CLI drives the whole credential lifecycle through the admin API of a
// real server, in both output formats.
func TestCLICredentialLifecycle(t *testing.T) {
	in := testserver.Start(t)
	var created apps.CreatedApp
	cliJSON(t, in, &created, "apps", "create", "--name", "cli", "--scope", "read", "--idempotency-key", "cli-1")
	if created.ClientSecret == "" || created.SecretID == "" || !strings.HasPrefix(created.ID, "app_live_") {
		t.Fatalf("apps create: %+v", created)
	}
	app, s0 := created.ID, created.SecretID
	var replay apps.CreatedApp
	cliJSON(t, in, &replay, "apps", "create", "--name", "cli", "--scope", "read", "--idempotency-key", "cli-1")
	if replay.ID != app || replay.ClientSecret != "" || replay.Replay == nil {
		t.Fatalf("retried apps create: %+v", replay)
	}

	var s1 apps.CreatedSecret
	cliJSON(t, in, &s1, "apps", "secrets", "create", app)
	if s1.Secret == "" || s1.Status != "active" {
		t.Fatalf("secrets create: %+v", s1)
	}
	if _, err := cli(t, in, in.AdminKey, "apps", "secrets", "rotate", app); apiCode(err) != "too_many_active_secrets" {
		t.Fatalf("rotate with two active secrets: %v", err)
	}
	var discarded apps.SecretView
	cliJSON(t, in, &discarded, "apps", "secrets", "discard", app, s0)
	if discarded.ID != s0 || discarded.Status != "inactive" {
		t.Fatalf("discard: %+v", discarded)
	}
	if out, err := cli(t, in, in.AdminKey, "apps", "secrets", "delete", app, s0); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("delete without --yes: %v %s", err, out)
	}
	out, err := cli(t, in, in.AdminKey, "apps", "secrets", "delete", app, s0, "--yes")
	if err != nil || !strings.Contains(out, "deleted "+s0) {
		t.Fatalf("delete --yes: %v %s", err, out)
	}
	var rotated apps.RotatedSecret
	cliJSON(t, in, &rotated, "apps", "secrets", "rotate", app, s1.ID, "--grace-period", "1h")
	if rotated.Secret == "" || rotated.Rotated == nil || rotated.Rotated.ID != s1.ID || rotated.Rotated.ExpiresAt == nil ||
		rotated.Rotated.ExpiresAt.Sub(in.Clock.Now()).Round(time.Second) != time.Hour {
		t.Fatalf("rotate: %+v", rotated)
	}
	out, err = cli(t, in, in.AdminKey, "apps", "secrets", "list", app)
	if err != nil || !strings.Contains(out, "SECRET_ID") || !strings.Contains(out, s1.ID) || !strings.Contains(out, rotated.ID) || strings.Contains(out, s0) {
		t.Fatalf("secrets list: %v\n%s", err, out)
	}

	var updated apps.AppView
	cliJSON(t, in, &updated, "apps", "update", app, "--name", "renamed", "--scope=", "--access-token-lifetime", "30m")
	if updated.Name != "renamed" || len(updated.Scopes) != 0 || updated.AccessTokenLifetime != "30m0s" {
		t.Fatalf("update: %+v", updated)
	}
	var disabled apps.AppView
	cliJSON(t, in, &disabled, "apps", "disable", app)
	if disabled.Enabled {
		t.Fatal("apps disable left the app enabled")
	}
	out, err = cli(t, in, in.AdminKey, "apps", "get", app)
	if err != nil || !strings.Contains(out, "enabled:") || !strings.Contains(out, "false") || !strings.Contains(out, "sk_live_…") {
		t.Fatalf("apps get: %v\n%s", err, out)
	}
	out, err = cli(t, in, in.AdminKey, "apps", "list")
	if err != nil || !strings.Contains(out, app) || !strings.Contains(out, "renamed") {
		t.Fatalf("apps list: %v\n%s", err, out)
	}

	var key accounts.CreatedKey
	cliJSON(t, in, &key, "account-keys", "create", "--name", "dashboard", "--role", "viewer")
	if key.Key == "" || key.Role != "viewer" {
		t.Fatalf("account-keys create: %+v", key)
	}
	if _, err := cli(t, in, key.Key, "apps", "secrets", "create", app); apiCode(err) != "forbidden" {
		t.Fatalf("a viewer creating a secret: %v", err)
	}
	if out, err := cli(t, in, key.Key, "apps", "get", app); err != nil || !strings.Contains(out, "renamed") {
		t.Fatalf("a viewer reading an app: %v\n%s", err, out)
	}
	out, err = cli(t, in, in.AdminKey, "account-keys", "list")
	if err != nil || !strings.Contains(out, key.ID) || !strings.Contains(out, key.Masked) || strings.Contains(out, key.Key) {
		t.Fatalf("account-keys list: %v\n%s", err, out)
	}
	if out, err := cli(t, in, in.AdminKey, "account-keys", "delete", key.ID); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("account-keys delete: %v %s", err, out)
	}

	var events struct {
		Items []audit.EventView `json:"items"`
	}
	cliJSON(t, in, &events, "audit", "list", "--app", app)
	var actions []string
	for _, e := range events.Items {
		actions = append(actions, e.Action)
	}
	want := []string{"app.disable", "app.update", "secret.rotate", "secret.delete", "secret.discard", "secret.create", "app.create"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("audit list --app: %v, want %v", actions, want)
	}
	out, err = cli(t, in, in.AdminKey, "audit", "list", "--action", "secret.rotate")
	if err != nil || !strings.Contains(out, "OUTCOME") || !strings.Contains(out, "grace_period=1h0m0s") || strings.Contains(out, "secret.create") {
		t.Fatalf("audit list --action: %v\n%s", err, out)
	}
	var page struct {
		Items     []audit.EventView `json:"items"`
		NextAfter string            `json:"next_after"`
	}
	cliJSON(t, in, &page, "audit", "list", "--app", app, "--limit", "2")
	if len(page.Items) != 2 || page.NextAfter != page.Items[1].ID {
		t.Fatalf("first page: %+v", page)
	}
	cliJSON(t, in, &page, "audit", "list", "--app", app, "--limit", "2", "--after", page.NextAfter)
	if len(page.Items) != 2 || page.Items[0].Action != "secret.rotate" {
		t.Fatalf("second page: %+v", page)
	}
	if _, err := cli(t, in, in.AdminKey, "apps", "list", "-o", "yaml"); err == nil {
		t.Fatal("an unknown output format was accepted")
	}
}
