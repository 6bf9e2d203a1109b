package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authserver/authserver/test/testserver"
)

// run runs the CLI in-process with stdin and returns its output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// The CLI manages test users and assertion keys through the admin API, and
// fetches a test user's token from /customer_authenticate.
func TestUsersCLI(t *testing.T) {
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "shop", "environment": "test"})
	admin := []string{"--admin-url", in.AdminURL, "--admin-key", in.AdminKey}

	out, err := run(t, "s3cret-password\n", append([]string{"users", "create", "--app", app.ClientID, "alice", "--password-stdin", "-o", "json"}, admin...)...)
	if err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	var created struct {
		User struct {
			Subject string `json:"subject"`
		} `json:"user"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.User.Subject == "" || created.Password != "" {
		t.Fatalf("created %q: %v", out, err)
	}
	// No password given: one is generated and shown once.
	out, err = run(t, "", append([]string{"users", "create", "--app", app.ClientID, "bob"}, admin...)...)
	if err != nil || !strings.Contains(out, "password:") {
		t.Fatalf("generated password: %v\n%s", err, out)
	}
	out, err = run(t, "", append([]string{"users", "list", "--app", app.ClientID}, admin...)...)
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") || strings.Contains(out, "s3cret") {
		t.Fatalf("users list: %v\n%s", err, out)
	}

	out, err = run(t, "s3cret-password\n", "customer-token", "--url", in.PublicURL+"/customer_authenticate",
		"--client-id", app.ClientID, "--username", "alice", "--password-stdin")
	if err != nil || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("customer-token: %v\n%s", err, out)
	}
	if _, err := run(t, "wrong-password\n", "customer-token", "--url", in.PublicURL+"/customer_authenticate",
		"--client-id", app.ClientID, "--username", "alice", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("wrong password: %v", err)
	}

	out, err = run(t, "", append([]string{"assertion-keys", "set", app.ClientID, "--jwks-uri", "https://keys.example/jwks.json", "--secret-signing"}, admin...)...)
	if err != nil || !strings.Contains(out, "https://keys.example/jwks.json") || !strings.Contains(out, "secret_signing:  true") {
		t.Fatalf("assertion-keys set: %v\n%s", err, out)
	}
	if _, err := run(t, "", append([]string{"assertion-keys", "set", app.ClientID, "--jwks-uri", "http://10.0.0.1/jwks.json"}, admin...)...); err == nil ||
		!strings.Contains(err.Error(), "invalid_jwks_uri") {
		t.Fatalf("http jwks_uri: %v", err)
	}

	out, err = run(t, "", append([]string{"users", "delete", "--app", app.ClientID, "alice"}, admin...)...)
	if err != nil || !strings.Contains(out, "deleted alice") {
		t.Fatalf("users delete: %v\n%s", err, out)
	}
	if _, err := run(t, "", append([]string{"users", "delete", "--app", app.ClientID, "alice"}, admin...)...); err == nil {
		t.Fatal("deleting a missing user succeeded")
	}
}
