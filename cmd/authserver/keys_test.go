package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/test/testserver"
)

// runCLI runs the authserver command with args against in's admin API and
// returns its standard output.
func runCLI(t *testing.T, in *testserver.Instance, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	// The admin flags go before a "--", after which everything is an
	// argument.
	at := len(args)
	for i, a := range args {
		if a == "--" {
			at = i
			break
		}
	}
	all := append(append(append([]string{}, args[:at]...), "--admin-url", in.AdminURL, "--admin-key", in.AdminKey), args[at:]...)
	root.SetArgs(all)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// The keys and kek commands drive the admin API, with --output json for
// scripts, and delete refuses without --yes before sending anything. Kids
// go after "--": one in 64 begins with "-".
func TestKeysCommands(t *testing.T) {
	in := testserver.Start(t)
	out, err := runCLI(t, in, "keys", "list", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var l signingkeys.Listing
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) != 1 || l.Items[0].State != "active" {
		t.Fatalf("keys list: %v %q", err, out)
	}
	first := l.Items[0].KID

	out, err = runCLI(t, in, "keys", "rotate", "--immediate", "-o", "json")
	var rot signingkeys.RotateResult
	if err != nil || json.Unmarshal([]byte(out), &rot) != nil || rot.ActiveKID == first || !rot.Immediate {
		t.Fatalf("keys rotate: %v %q", err, out)
	}
	out, err = runCLI(t, in, "keys", "discard", "-o", "json", "--", first)
	var v signingkeys.KeyView
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.State != "inactive" {
		t.Fatalf("keys discard: %v %q", err, out)
	}

	before := in.DumpStore(t)
	if _, err := runCLI(t, in, "keys", "delete", "--", first); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("delete without --yes: %v", err)
	}
	if _, err := runCLI(t, in, "keys", "discard", "--", rot.ActiveKID); err == nil || !strings.Contains(err.Error(), "key_active") {
		t.Fatalf("discard the active key: %v", err)
	}
	if after := in.DumpStore(t); !reflect.DeepEqual(before, after) {
		t.Fatal("refused commands changed the store")
	}

	if out, err = runCLI(t, in, "keys", "reactivate", "--", first); err != nil || !strings.Contains(out, "retired") {
		t.Fatalf("keys reactivate: %v %q", err, out)
	}
	if _, err = runCLI(t, in, "keys", "discard", "--", first); err != nil {
		t.Fatal(err)
	}
	if out, err = runCLI(t, in, "keys", "delete", "--yes", "-o", "json", "--", first); err != nil || !strings.Contains(out, `"deleted": true`) {
		t.Fatalf("keys delete --yes: %v %q", err, out)
	}
	out, err = runCLI(t, in, "keys", "list")
	if err != nil || strings.Contains(out, first) || !strings.Contains(out, rot.ActiveKID) || !strings.Contains(out, "STATE") {
		t.Fatalf("keys list (table) after the delete: %v\n%s", err, out)
	}

	out, err = runCLI(t, in, "kek", "rotate", "-o", "json")
	var st signingkeys.KEKStatus
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.CurrentKEKID == "" || st.Resealed != 0 || st.SigningKeys[st.CurrentKEKID] != 1 {
		t.Fatalf("kek rotate: %v %q", err, out)
	}
	if out, err = runCLI(t, in, "kek", "status"); err != nil || !strings.Contains(out, st.CurrentKEKID) {
		t.Fatalf("kek status: %v %q", err, out)
	}
}

// An argument that cobra takes for an unknown flag, as a kid beginning
// with "-" is, gets an error that says how to pass it.
func TestLeadingDashHint(t *testing.T) {
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"keys", "discard", "-soGkw5l67Oi0MPaXiIY1CAr-E2RBbHMs_LywXA9zFk"})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), `goes after "--"`) {
		t.Fatalf("got %v, want the hint about --", err)
	}
	// After "--" it reaches the admin API, which knows no such key.
	in := testserver.Start(t)
	if _, err := runCLI(t, in, "keys", "discard", "--", "-soGkw5l67Oi0MPaXiIY1CAr-E2RBbHMs_LywXA9zFk"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("discard -- -KID: got %v, want the API's 404", err)
	}
}
