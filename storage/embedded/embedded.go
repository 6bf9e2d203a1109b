package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself registers; imported for IndexIDPaths
)

// sqliteCacheSize is the page cache of each SQLite connection of the
// embedded database, in KiB when negative (SQLite's PRAGMA cache_size).
// FerretDB keeps up to 100 connections open, one per concurrent command,
// so SQLite's default of 2 MiB each let concurrent cache misses over many
// apps grow the server's memory several times over (test/load/README.md,
// the scale run). 512 KiB each keeps recent pages; the kernel's page cache
// holds the rest of the file.
const sqliteCacheSize = "-512"

// socketName is the file name of the embedded database's Unix socket.
// The MongoDB driver dials a host that ends in "sock" as a socket path.
const socketName = "ferretdb.sock"

// modeFileName is an empty file, 0600, whose permissions SQLite gives every
// database file it creates (the "modeof" URI parameter): FerretDB creates
// a file per database, and SQLite otherwise creates it 0644 less the
// process umask. The WAL and shared-memory files take the mode of their
// database file.
const modeFileName = "filemode"

// maxSocketPath is the longest path a Unix socket can be bound at: the
// size of sockaddr_un's sun_path less its terminating NUL (107 bytes on
// Linux, 103 on macOS).
var maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// DB is an in-process FerretDB (SQLite backend, pure Go). It is the
// default database when no MongoDB URI is configured, and what the tests
// run against. FerretDB has no authentication: the database is reached
// through a Unix socket in its directory, which is 0700, and the socket is
// 0600, so only the server's own user can connect. A loopback TCP
// listener is an explicit opt-in (any local user can reach it). It can be
// stopped and started again on the same socket, address and files, which
// is how the tests take the database away from a running server and give
// it back.
type DB struct {
	dir    string // absolute
	logger *slog.Logger
	socket string // absolute path of the Unix socket
	// fallback is a private directory under os.TempDir() holding the
	// socket when its path under dir is too long to bind; removed by
	// Close.
	fallback string

	mu      sync.Mutex
	tcpAddr string // "" (no TCP), or the bound host:port, kept across restarts
	cancel  context.CancelFunc
	done    chan struct{}
	running bool
	closed  bool
}

// Start starts FerretDB with its files under dir (created with mode
// 0700 if missing, set to 0700 if not), listening on a Unix socket named
// ferretdb.sock in dir. When that path is longer than a socket address
// allows (107 bytes on Linux), the socket goes into a new private (0700)
// directory under os.TempDir() instead; SocketPath says where. tcpAddr, if
// not empty, adds a TCP listener at that loopback host:port ("127.0.0.1:0"
// picks a free port); any other address is refused, since FerretDB asks
// for no credentials. logger receives FerretDB's own logs; nil discards
// them (it is chatty).
func Start(dir, tcpAddr string, logger *slog.Logger) (_ *DB, err error) {
	if tcpAddr != "" {
		if err := CheckLoopback(tcpAddr); err != nil {
			return nil, fmt.Errorf("embedded database TCP address: %w", err)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded database directory: %w", err)
	}
	if err := restrictDir(abs); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &DB{dir: abs, logger: logger, tcpAddr: tcpAddr}
	if e.socket, e.fallback, err = socketPath(abs); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && e.fallback != "" {
			_ = os.RemoveAll(e.fallback)
		}
	}()
	if err := e.start(); err != nil {
		return nil, err
	}
	return e, nil
}

// CheckLoopback returns an error unless host:port addr names a loopback
// address: an IP literal in 127.0.0.0/8 or ::1, or "localhost".
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q must be host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: the embedded database has no authentication, so its TCP listener is for processes on this host only", addr)
	}
	return nil
}

// restrictDir creates dir 0700, or makes it 0700, and makes every regular
// file in it 0600 (files of an older version, created 0644). It refuses a
// dir that is a symbolic link or belongs to another user, as ssh's
// StrictModes does: that user could replace the socket with their own and
// serve the server a database of their choosing, whatever its mode.
func restrictDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create embedded database directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("embedded database directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("embedded database directory %s is not a directory (a symbolic link is refused: it may lead where others write)", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("embedded database directory %s belongs to uid %d, not to this process's user (uid %d): another user could replace its socket", dir, st.Uid, os.Geteuid())
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("embedded database directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, modeFileName), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("embedded database directory: %w", err)
	}
	f.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("embedded database directory: %w", err)
	}
	for _, d := range entries {
		if !d.Type().IsRegular() {
			continue
		}
		if err := os.Chmod(filepath.Join(dir, d.Name()), 0o600); err != nil {
			return fmt.Errorf("embedded database directory: %w", err)
		}
	}
	return nil
}

// socketPath returns where the socket of the database in dir goes: in
// dir when the path fits a socket address and the MongoDB driver can
// parse it (no ':'), else in a new private directory under os.TempDir(),
// returned as fallback.
func socketPath(dir string) (path, fallback string, err error) {
	path = filepath.Join(dir, socketName)
	if len(path) <= maxSocketPath && !strings.Contains(path, ":") {
		return path, "", nil
	}
	fallback, err = os.MkdirTemp("", "authserver-db-") // 0700, a fresh name
	if err != nil {
		return "", "", fmt.Errorf("embedded database socket: %s is too long (%d bytes, at most %d): %w", path, len(path), maxSocketPath, err)
	}
	short := filepath.Join(fallback, socketName)
	if len(short) > maxSocketPath || strings.Contains(short, ":") {
		_ = os.Remove(fallback)
		return "", "", fmt.Errorf("embedded database socket: %s is too long (%d bytes, at most %d) and so is %s: choose a shorter data_dir", path, len(path), maxSocketPath, short)
	}
	return short, fallback, nil
}

// removeStaleSocket removes a socket left at path by a process that did
// not stop cleanly, so that the listener can bind there again. It refuses
// to remove anything but a socket, and a socket something still answers
// on (another server on the same data_dir).
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("embedded database socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("embedded database socket: %s exists and is not a socket; remove it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("embedded database socket: %s is in use: is another server running on this data_dir?", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("embedded database socket: remove stale %s: %w", path, err)
	}
	return nil
}

// newFerretDBMu serializes ferretdb.New, which writes a package-level
// variable of FerretDB's (version.Get().Package, ferretdb.go:92 in
// v1.24.2): two embedded databases starting at once in one process, as
// parallel tests do, would race on it.
var newFerretDBMu sync.Mutex

// start runs FerretDB on e.socket (and e.tcpAddr); e.mu must be held or e
// unshared.
func (e *DB) start() error {
	if err := removeStaleSocket(e.socket); err != nil {
		return err
	}
	q := url.Values{}
	q.Add("_pragma", "cache_size("+sqliteCacheSize+")")
	q.Set("modeof", filepath.Join(e.dir, modeFileName))
	newFerretDBMu.Lock()
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: e.socket, TCP: e.tcpAddr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + e.dir + "/?" + q.Encode(),
		Logger:    e.logger,
	})
	newFerretDBMu.Unlock()
	if err != nil {
		return fmt.Errorf("start embedded ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = db.Run(ctx)
	}()
	fail := func(err error) error {
		cancel()
		<-done
		return err
	}
	// The socket is created with the umask's mode; the 0700 directory
	// keeps everyone else out until this chmod.
	if err := os.Chmod(e.socket, 0o600); err != nil {
		return fail(fmt.Errorf("embedded database socket: %w", err))
	}
	if e.tcpAddr != "" {
		// MongoDBURI names the TCP listener when there is one.
		u, err := url.Parse(db.MongoDBURI())
		if err != nil {
			return fail(fmt.Errorf("embedded database TCP address: %w", err))
		}
		if err := CheckLoopback(u.Host); err != nil { // "localhost" resolved elsewhere
			return fail(fmt.Errorf("embedded database TCP address: %w", err))
		}
		e.tcpAddr = u.Host // a restart must come back on the same port
	}
	e.cancel, e.done, e.running = cancel, done, true
	return nil
}

// URI is the mongodb:// connection string of the embedded server's Unix
// socket, for processes of the same user on this host. It stays the same
// across Stop and Restart.
func (e *DB) URI() string {
	return "mongodb://" + url.QueryEscape(e.socket) + "/"
}

// SocketPath is the path of the Unix socket the database listens on.
func (e *DB) SocketPath() string { return e.socket }

// TCPAddr is the bound host:port of the opt-in loopback TCP listener, ""
// when there is none. It stays the same across Stop and Restart.
func (e *DB) TCPAddr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tcpAddr
}

// Stop shuts FerretDB down and waits until its listeners, its connections
// and its files are closed; the socket file is removed. Stopping a
// stopped database does nothing.
func (e *DB) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return
	}
	e.cancel()
	<-e.done
	e.running = false
}

// Close stops the database for good and removes the private socket
// directory under os.TempDir(), if one was made. Closing twice does
// nothing.
func (e *DB) Close() {
	e.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed && e.fallback != "" {
		_ = os.RemoveAll(e.fallback)
	}
	e.closed = true
}

// Restart starts a stopped FerretDB again on the same socket, address
// and files, so that clients connected to URI reconnect to the same data.
// It fails if the database is running or closed, or the address has been
// taken meanwhile.
func (e *DB) Restart() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return errors.New("restart embedded ferretdb: it is running")
	}
	if e.closed {
		return errors.New("restart embedded ferretdb: it is closed")
	}
	return e.start()
}

// IndexIDPaths adds, to every collection of database, an SQLite index on
// the expression FerretDB v1.24's SQLite backend uses to find a document by
// _id. FerretDB creates its own _id index on _ferretdb_sjson->"_id" but
// pushes a find by _id down as _ferretdb_sjson->'$._id', which SQLite does
// not match to that index (EXPLAIN QUERY PLAN: SCAN): without this, every
// look-up of an app reads the apps table from the start (test/load/README.md,
// the scale run). FerretDB's own metadata does not list the index and never needs
// to. It is idempotent; call it after EnsureIndexes, which creates every
// collection.
func (e *DB) IndexIDPaths(ctx context.Context, database string) error {
	path := filepath.Join(e.dir, database+".sqlite")
	q := url.Values{"_pragma": {"busy_timeout(10000)"}, "modeof": {filepath.Join(e.dir, modeFileName)}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("list collections of %s: %w", path, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return fmt.Errorf("list collections of %s: %w", path, err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list collections of %s: %w", path, err)
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_id_path", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index _id of %s: %w", t, err)
		}
	}
	return nil
}
