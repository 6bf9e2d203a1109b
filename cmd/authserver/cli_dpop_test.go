package main

import (
	"strings"
	"testing"

	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/test/testserver"
)

// "apps create" and "apps update" set an app's DPoP policy (RFC 9449
// §5.2's dpop_bound_access_tokens, and dpop_nonce_required), "apps get"
// shows it, and an update changes only the flags given.
func TestCLIDPoPPolicy(t *testing.T) {
	in := testserver.Start(t)
	var created apps.CreatedApp
	cliJSON(t, in, &created, "apps", "create", "--name", "bound", "--dpop-bound-access-tokens", "--dpop-nonce-required")
	if !created.DPoPBoundAccessTokens || !created.DPoPNonceRequired {
		t.Fatalf("apps create with both flags: %+v", created.AppView)
	}
	var plain apps.CreatedApp
	cliJSON(t, in, &plain, "apps", "create", "--name", "plain")
	if plain.DPoPBoundAccessTokens || plain.DPoPNonceRequired {
		t.Fatalf("apps create without the flags: %+v", plain.AppView)
	}

	var updated apps.AppView
	cliJSON(t, in, &updated, "apps", "update", created.ID, "--dpop-bound-access-tokens=false")
	if updated.DPoPBoundAccessTokens || !updated.DPoPNonceRequired {
		t.Fatalf("update of one flag: %+v", updated)
	}
	cliJSON(t, in, &updated, "apps", "update", plain.ID, "--dpop-bound-access-tokens")
	if !updated.DPoPBoundAccessTokens || updated.DPoPNonceRequired {
		t.Fatalf("update turning it on: %+v", updated)
	}

	out, err := cli(t, in, in.AdminKey, "apps", "get", plain.ID)
	if err != nil {
		t.Fatalf("apps get: %v\n%s", err, out)
	}
	for _, line := range []string{"dpop_bound_access_tokens", "dpop_nonce_required"} {
		if !strings.Contains(out, line) {
			t.Errorf("apps get does not show %s:\n%s", line, out)
		}
	}
	if !strings.Contains(lineOf(out, "dpop_bound_access_tokens"), "true") ||
		!strings.Contains(lineOf(out, "dpop_nonce_required"), "false") {
		t.Errorf("apps get shows the wrong policy:\n%s", out)
	}
}

// lineOf returns the first line of out that starts with name.
func lineOf(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), name) {
			return l
		}
	}
	return ""
}
