package test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authserver/authserver/test/testserver"
)

// tcpListeners returns the local addresses ("127.0.0.1:8080", "[::1]:80")
// of the TCP sockets process pid is listening on, from its open files and
// the kernel's socket tables (Linux /proc).
func tcpListeners(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot read the process's files (not Linux?): %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header line
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			const listen = "0A"
			if len(fields) < 10 || fields[3] != listen || !inodes[fields[9]] {
				continue
			}
			addrs = append(addrs, procAddr(t, fields[1]))
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(addrs)
	return addrs
}

// procAddr decodes a /proc/net/tcp{,6} address: the IP in hex, each 32-bit
// word in host (little-endian) order, then ":" and the port in hex.
func procAddr(t *testing.T, s string) string {
	t.Helper()
	ipHex, portHex, _ := strings.Cut(s, ":")
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		t.Fatalf("address %q in /proc/net/tcp", s)
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 {
		for i := range 4 {
			ip[w+i] = raw[w+3-i]
		}
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		t.Fatalf("port %q in /proc/net/tcp", s)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}

// mongoPing connects to uri with the stock MongoDB driver and pings.
func mongoPing(uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	return client.Ping(ctx, nil)
}

// A default `serve` on the embedded database listens on TCP at its public
// and admin addresses and nowhere else: no local user reaches the database
// with a stock Mongo client over TCP. The database listens on a Unix
// socket in data_dir/db, a 0700 directory, and the socket is 0600; the
// same client reaches it there, as the user the server runs as.
func TestServeEmbeddedDatabaseIsPrivate(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the server and runs it")
	}
	bin := buildServer(t)
	p := startProcess(t, bin, "server", "", "")
	p.waitReady(t)

	got := tcpListeners(t, p.cmd.Process.Pid)
	want := []string{strings.TrimPrefix(p.public, "http://"), strings.TrimPrefix(p.admin, "http://")}
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the server listens on TCP at %v, want its two listeners %v only", got, want)
	}
	for _, addr := range got {
		if err := mongoPing("mongodb://" + addr + "/?directConnection=true"); err == nil {
			t.Errorf("a Mongo client reached a database over TCP at %s", addr)
		}
	}

	db := filepath.Join(p.dataDir, "db")
	sock := filepath.Join(db, "ferretdb.sock")
	checkMode(t, db, fs.ModeDir|0o700)
	checkMode(t, sock, fs.ModeSocket|0o600)
	if err := mongoPing("mongodb://" + strings.ReplaceAll(sock, "/", "%2F") + "/"); err != nil {
		t.Errorf("the Mongo client does not reach the database through its socket: %v", err)
	}
	p.stop(t)
	if _, err := os.Lstat(sock); err == nil {
		t.Error("the socket is still there after a clean stop")
	}
}

// checkMode fails the test unless path (not followed if a link) has
// exactly the type and permission bits want.
func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if got := fi.Mode() & (fs.ModeType | fs.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// Every file the server creates under data_dir is readable by its owner
// only, the embedded database's SQLite files (and their WAL and shared
// memory) included, and every directory it creates there is 0700.
func TestDataDirFileModes(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	in.CreateApp(t, map[string]any{"name": "a"}) // a write: the WAL exists
	dir := in.Config.DataDir
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err // data_dir itself is the operator's (here, the test's)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			checkMode(t, path, fs.ModeDir|0o700)
		case fi.Mode()&fs.ModeSocket != 0:
			checkMode(t, path, fs.ModeSocket|0o600)
		default:
			checkMode(t, path, 0o600)
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 { // kek, admin.key, the database
		t.Fatalf("%d files under %s: the walk saw too little", files, dir)
	}
}

// At start, as ssh does with private keys, the server warns when data_dir/kek
// or data_dir/admin.key can be read or written by group or others, naming
// the file and never its content.
func TestWarnsOnOpenSecretFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		kek, adm  fs.FileMode
		wantWarns []string // file names warned about
	}{
		{"owner only", 0o600, 0o600, nil},
		{"owner read only", 0o400, 0o400, nil},
		{"kek world-readable", 0o644, 0o600, []string{"kek"}},
		{"admin.key group-readable", 0o600, 0o640, []string{"admin.key"}},
		{"both open", 0o666, 0o604, []string{"kek", "admin.key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := testserver.StartWith(t, testserver.Config(dir), testserver.NewClock())
			waitServing(t, first)
			first.Stop(t)
			secrets := map[string]fs.FileMode{"kek": tc.kek, "admin.key": tc.adm}
			var contents []string
			for name, mode := range secrets {
				path := filepath.Join(dir, name)
				if err := os.Chmod(path, mode); err != nil {
					t.Fatal(err)
				}
				if b, err := os.ReadFile(path); err == nil {
					contents = append(contents, strings.TrimSpace(string(b)))
				}
			}
			again := testserver.StartWith(t, testserver.Config(dir), testserver.NewClock())
			waitServing(t, again)
			logs := again.Logs.String()
			var warned []string
			for _, line := range strings.Split(logs, "\n") {
				if !strings.Contains(line, "level=WARN") {
					continue
				}
				for name := range secrets {
					if strings.Contains(line, "path="+filepath.Join(dir, name)+" ") {
						warned = append(warned, name)
					}
				}
			}
			sort.Strings(warned)
			want := append([]string(nil), tc.wantWarns...)
			sort.Strings(want)
			if strings.Join(warned, ",") != strings.Join(want, ",") {
				t.Errorf("warned about %v, want %v; logs:\n%s", warned, want, logs)
			}
			assertNoneIn(t, "the logs", logs, contents...)
		})
	}
}

// waitServing waits until in has logged that it serves: a Shutdown
// racing the first lines of Serve is a data race of the server's own.
func waitServing(t *testing.T, in *testserver.Instance) {
	t.Helper()
	eventually(t, "serving", func() bool { return strings.Contains(in.Logs.String(), "msg=serving") })
}
