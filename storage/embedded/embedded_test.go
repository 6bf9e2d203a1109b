package embedded_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/embedded"
	"github.com/authserver/authserver/storage/mongodb"
	"github.com/authserver/authserver/storage/storagetest"
)

// The embedded database can be taken away and given back on the same
// address and files: a Store opened before keeps working after Restart
// and sees what was written before Stop.
func TestEmbeddedStopRestart(t *testing.T) {
	s, e := storagetest.Embedded(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if _, err := s.Revoke(ctx, storage.Revoked{JTI: "before", ClientID: "c", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	uri := e.URI()
	e.Stop()
	e.Stop() // idempotent
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err := s.Ping(short)
	cancel()
	if err == nil {
		t.Fatal("ping succeeded with the database stopped")
	}
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	if e.URI() != uri {
		t.Fatalf("URI changed across the restart: %s, then %s", uri, e.URI())
	}
	if err := e.Restart(); err == nil {
		t.Fatal("restarting a running database succeeded")
	}
	// The driver reconnects on its own; poll with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not reconnect: %v", err)
		}
	}
	got, err := s.RevokedAfter(ctx, storage.RevokedCursor{}, time.Now(), 10)
	if err != nil || len(got) != 1 || got[0].JTI != "before" {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if created, err := s.Revoke(ctx, storage.Revoked{JTI: "after", ClientID: "c", ExpiresAt: exp}); err != nil || !created {
		t.Fatalf("write after restart: %v", err)
	}
}

// ping opens a Store on uri and pings it.
func ping(t *testing.T, uri string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := mongodb.Open(ctx, mongodb.Options{URI: uri, Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer func() { _ = s.Close(context.Background()) }()
	return s.Ping(ctx)
}

// mode returns the type and permission bits of path, not following links.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (fs.ModeType | fs.ModePerm)
}

// By default the embedded database listens on a Unix socket in its
// directory and nowhere else: the directory is 0700, the socket 0600, and
// the database files SQLite creates are 0600 whatever the umask. A stop
// removes the socket; a restart binds it again with the same modes.
func TestEmbeddedSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	e, err := embedded.Start(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if addr := e.TCPAddr(); addr != "" {
		t.Fatalf("TCP address %q with none asked for", addr)
	}
	sock := filepath.Join(dir, "ferretdb.sock")
	if e.SocketPath() != sock {
		t.Fatalf("socket at %s, want %s", e.SocketPath(), sock)
	}
	if !strings.HasPrefix(e.URI(), "mongodb://%2F") || !strings.HasSuffix(e.URI(), "ferretdb.sock/") {
		t.Fatalf("URI %s does not name the socket", e.URI())
	}
	check := func() {
		t.Helper()
		if got := mode(t, dir); got != fs.ModeDir|0o700 {
			t.Errorf("directory mode %v, want drwx------", got)
		}
		if got := mode(t, sock); got != fs.ModeSocket|0o600 {
			t.Errorf("socket mode %v, want Srw-------", got)
		}
	}
	check()
	s, err := mongodb.Open(context.Background(), mongodb.Options{URI: e.URI()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.EnsureIndexes(context.Background()); err != nil { // creates the database file
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, d := range entries {
		if d.Type().IsRegular() {
			files = append(files, d.Name())
			if got := mode(t, filepath.Join(dir, d.Name())); got != 0o600 {
				t.Errorf("%s: mode %v, want -rw-------", d.Name(), got)
			}
		}
	}
	if !slices.Contains(files, "authserver.sqlite") {
		t.Fatalf("no database file among %v", files)
	}

	e.Stop()
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket after Stop: %v", err)
	}
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	check()
	if err := ping(t, e.URI()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// What is found at the socket's path when the database starts: a socket
// left by a process that died is removed and bound again; a socket
// something answers on (another server on the same files) and anything
// that is not a socket are left alone, and the start fails saying why.
func TestEmbeddedSocketLeftBehind(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string // "" for a start
	}{
		{"nothing", func(*testing.T, string) {}, ""},
		{"stale socket", func(t *testing.T, path string) {
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false) // as a killed process leaves it
			l.Close()
		}, ""},
		{"live socket", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}, "in use"},
		{"regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a socket"},
		{"symbolic link", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere.sock"), path); err != nil {
				t.Fatal(err)
			}
		}, "not a socket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ferretdb.sock")
			tc.prepare(t, path)
			before, _ := os.Lstat(path)
			e, err := embedded.Start(dir, "", nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(e.Close)
				if err := ping(t, e.URI()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				e.Close()
				t.Fatalf("started; want an error saying %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
			after, _ := os.Lstat(path)
			if after == nil || !os.SameFile(before, after) {
				t.Fatal("what was at the socket's path was replaced")
			}
		})
	}
}

// A data_dir too long for a socket address (sun_path: 107 bytes and a
// NUL on Linux), as a test's t.TempDir() or a deep mount can be: the
// socket goes into a new private directory under os.TempDir(), mode 0700,
// which Close removes; the database works and restarts there.
func TestEmbeddedLongDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("b", 60))
	if len(filepath.Join(dir, "ferretdb.sock")) <= 107 {
		t.Fatal("the directory is not long enough to test anything")
	}
	e, err := embedded.Start(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	sock := e.SocketPath()
	private := filepath.Dir(sock)
	if len(sock) > 107 || !strings.HasPrefix(private, os.TempDir()) {
		t.Fatalf("socket at %s", sock)
	}
	if got := mode(t, private); got != fs.ModeDir|0o700 {
		t.Errorf("socket directory mode %v, want drwx------", got)
	}
	if got := mode(t, sock); got != fs.ModeSocket|0o600 {
		t.Errorf("socket mode %v, want Srw-------", got)
	}
	if err := ping(t, e.URI()); err != nil {
		t.Fatal(err)
	}
	e.Stop()
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, e.URI()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	e.Close()
	if _, err := os.Lstat(private); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the private socket directory is still there after Close: %v", err)
	}
	if err := e.Restart(); err == nil {
		t.Fatal("a closed database restarted")
	}

	// With no short place left either, the start fails and says so.
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), strings.Repeat("t", 100)))
	if err := os.MkdirAll(os.TempDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if e, err := embedded.Start(dir, "", nil); err == nil {
		e.Close()
		t.Fatal("started with no short socket path")
	} else if !strings.Contains(err.Error(), "too long") {
		t.Fatalf("error %q does not say the path is too long", err)
	}
}

// The TCP listener is an opt-in, on loopback only: it serves the database
// next to the socket and comes back on the same port after a restart; a
// non-loopback address is refused before anything listens.
func TestEmbeddedTCP(t *testing.T) {
	e, err := embedded.Start(t.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	addr := e.TCPAddr()
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("TCP address %q", addr)
	}
	for _, uri := range []string{e.URI(), "mongodb://" + addr + "/"} {
		if err := ping(t, uri); err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
	}
	e.Stop()
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	if e.TCPAddr() != addr {
		t.Fatalf("TCP address changed across the restart: %s, then %s", addr, e.TCPAddr())
	}

	for _, bad := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "db.example:0"} {
		dir := t.TempDir()
		if e, err := embedded.Start(dir, bad, nil); err == nil {
			e.Close()
			t.Errorf("%s: started", bad)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: error %q does not say loopback", bad, err)
		}
	}
}

// Files and a directory left by an older version (0644, 0755) are made
// private at start.
func TestEmbeddedTightensExistingFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "other.sqlite-wal")
	if err := os.WriteFile(old, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	e, err := embedded.Start(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if got := mode(t, dir); got != fs.ModeDir|0o700 {
		t.Errorf("directory mode %v, want drwx------", got)
	}
	if got := mode(t, old); got != 0o600 {
		t.Errorf("existing file mode %v, want -rw-------", got)
	}
}

// The database's directory must be the server's own: a symbolic link, or a
// directory another user owns (who could swap the socket for their own
// and serve a database of their choosing), stops the start.
func TestEmbeddedRefusesForeignDirectory(t *testing.T) {
	t.Run("symbolic link", func(t *testing.T) {
		parent := t.TempDir()
		target := filepath.Join(parent, "elsewhere")
		if err := os.Mkdir(target, 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(parent, "db")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if db, err := embedded.Start(link, "", nil); err == nil {
			db.Close()
			t.Fatal("started in a directory that is a symbolic link")
		} else if !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("error %q does not say why", err)
		}
	})
	t.Run("another user's directory", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a directory to another user")
		}
		dir := filepath.Join(t.TempDir(), "db")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if db, err := embedded.Start(dir, "", nil); err == nil {
			db.Close()
			t.Fatal("started in a directory another user owns")
		} else if !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Fatalf("error %q does not say why", err)
		}
	})
}
