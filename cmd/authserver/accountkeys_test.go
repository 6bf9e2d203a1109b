package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// The deployment flow of owner_key_file: `account-keys generate` prints a
// key offline, each run a new one; a server started on an empty store with
// that key in owner_key_file accepts it as the owner's.
func TestAccountKeysGenerate(t *testing.T) {
	generate := func() string {
		root := newRootCommand()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		// An admin URL no server listens on: generate must not need one.
		root.SetArgs([]string{"account-keys", "generate", "--admin-url", "http://127.0.0.1:1"})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("account-keys generate: %v\n%s", err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	key := generate()
	if other := generate(); other == key {
		t.Fatal("two runs printed the same key")
	}
	path := filepath.Join(t.TempDir(), "owner-key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := testserver.Start(t, func(c *server.Config) { c.OwnerKeyFile = path })
	out, err := cli(t, in, key, "account-keys", "list")
	if err != nil || !strings.Contains(out, "owner") {
		t.Fatalf("account-keys list with the generated key: %v\n%s", err, out)
	}
}
