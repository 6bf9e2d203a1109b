package test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// owner_key_file: the account is created with the operator's key (a
// Kubernetes Secret), nothing is written to data_dir, a later instance with
// another key file changes nothing, and a malformed key stops the start
// without echoing the file.
func TestOwnerKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeKey := func(t *testing.T, key string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "owner-key")
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ownerKey := credential.NewAccountKey()
	first := testserver.StartWith(t, testserver.Config(filepath.Join(dir, "first")), testserver.NewClock(), func(c *server.Config) {
		c.OwnerKeyFile = writeKey(t, ownerKey)
	})
	if _, err := os.Stat(filepath.Join(first.Config.DataDir, "admin.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("admin.key with owner_key_file set: %v", err)
	}
	if !strings.Contains(first.Logs.String(), "created the owner account key from owner_key_file") {
		t.Fatal("the start did not log that it used owner_key_file")
	}
	var keys struct {
		Items []struct {
			Role string `json:"role"`
		} `json:"items"`
	}
	if status := first.Admin(t, ownerKey, http.MethodGet, "/admin/v1/account-keys", nil, &keys); status != http.StatusOK {
		t.Fatalf("the owner key from the file: status %d", status)
	}
	if len(keys.Items) != 1 || keys.Items[0].Role != accounts.RoleOwner {
		t.Fatalf("account keys %+v, want one owner key", keys.Items)
	}

	// A second instance on the same database, given another key: the
	// account exists, so its key is not used and authorises nothing.
	kek, err := os.ReadFile(filepath.Join(first.Config.DataDir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	otherKey := credential.NewAccountKey()
	second := testserver.StartWith(t, testserver.Config(filepath.Join(dir, "second")), first.Clock, func(c *server.Config) {
		c.MongoDB.URI = first.Server.StoreURI()
		c.KEK = strings.TrimSpace(string(kek))
		c.OwnerKeyFile = writeKey(t, otherKey)
	})
	if !strings.Contains(second.Logs.String(), "the account exists: owner_key_file is not used") {
		t.Fatal("the second start did not say it ignored owner_key_file")
	}
	if status := second.Admin(t, otherKey, http.MethodGet, "/admin/v1/account-keys", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("a second owner_key_file's key: status %d, want 401", status)
	}
	if status := second.Admin(t, ownerKey, http.MethodGet, "/admin/v1/account-keys", nil, nil); status != http.StatusOK {
		t.Fatalf("the account's owner key at the second instance: status %d", status)
	}

	// Malformed keys stop the start; the error names the file, not its
	// content.
	for name, content := range map[string]string{
		"empty":         "",
		"not a key":     "correct horse battery staple",
		"bad checksum":  flipLast(ownerKey),
		"an app secret": credential.NewSecret(credential.EnvLive),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testserver.Config(t.TempDir())
			cfg.OwnerKeyFile = writeKey(t, content)
			srv, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("the server started with a malformed owner key")
			}
			if !strings.Contains(err.Error(), "owner_key_file") || (content != "" && strings.Contains(err.Error(), content)) {
				t.Fatalf("error %q: want one that names owner_key_file and not the key", err)
			}
		})
	}
}
