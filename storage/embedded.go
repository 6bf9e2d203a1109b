package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself registers; imported for IndexIDPaths
)

// sqliteCacheSize is the page cache of each SQLite connection of the
// embedded database, in KiB when negative (SQLite's PRAGMA cache_size).
// FerretDB keeps up to 100 connections open, one per concurrent command:
// at SQLite's default of 2 MiB each, 64 concurrent cache misses over
// 100,000 apps held 150 MB of page cache and took the server past 200 MB
// of RSS. 512 KiB each keeps recent pages; the kernel's page cache holds
// the rest of the file.
const sqliteCacheSize = "-512"

// Embedded is an in-process FerretDB (SQLite backend, pure Go) listening on
// a loopback port. It is the default database when no MongoDB URI is
// configured, and what the tests run against. It can be stopped and
// started again on the same address and files, which is how the tests
// take the database away from a running server and give it back.
type Embedded struct {
	dir    string // absolute
	logger *slog.Logger

	mu      sync.Mutex
	addr    string // the bound host:port, kept across restarts
	uri     string
	cancel  context.CancelFunc
	done    chan struct{}
	running bool
}

// StartEmbedded starts FerretDB with its files under dir (created with mode
// 0700 if missing), listening on addr ("127.0.0.1:0" picks a free port).
// logger receives FerretDB's own logs; nil discards them (it is chatty).
func StartEmbedded(dir, addr string, logger *slog.Logger) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create embedded database directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded database directory: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Embedded{dir: abs, logger: logger, addr: addr}
	if err := e.start(); err != nil {
		return nil, err
	}
	return e, nil
}

// newFerretDBMu serializes ferretdb.New, which writes a package-level
// variable of FerretDB's (version.Get().Package, ferretdb.go:92 in
// v1.24.2): two embedded databases starting at once in one process, as
// parallel tests do, would race on it.
var newFerretDBMu sync.Mutex

// start runs FerretDB on e.addr; e.mu must be held or e unshared.
func (e *Embedded) start() error {
	newFerretDBMu.Lock()
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: e.addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + e.dir + "/?_pragma=cache_size(" + sqliteCacheSize + ")",
		Logger:    e.logger,
	})
	newFerretDBMu.Unlock()
	if err != nil {
		return fmt.Errorf("start embedded ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.uri = db.MongoDBURI()
	if u, err := url.Parse(e.uri); err == nil {
		e.addr = u.Host // a restart must come back on the same port
	}
	e.cancel, e.done, e.running = cancel, done, true
	go func() {
		defer close(done)
		_ = db.Run(ctx)
	}()
	return nil
}

// URI is the mongodb:// connection string of the embedded server. It stays
// the same across Stop and Restart.
func (e *Embedded) URI() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.uri
}

// Stop shuts FerretDB down and waits until its listener, its connections
// and its files are closed. Stopping a stopped database does nothing.
func (e *Embedded) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return
	}
	e.cancel()
	<-e.done
	e.running = false
}

// Restart starts a stopped FerretDB again on the same address and files,
// so that clients connected to URI reconnect to the same data. It fails if
// the database is running or the address has been taken meanwhile.
func (e *Embedded) Restart() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return errors.New("restart embedded ferretdb: it is running")
	}
	return e.start()
}

// IndexIDPaths adds, to every collection of database, an SQLite index on
// the expression FerretDB v1.24's SQLite backend uses to find a document by
// _id. FerretDB creates its own _id index on _ferretdb_sjson->"_id" but
// pushes a find by _id down as _ferretdb_sjson->'$._id', which SQLite does
// not match to that index (EXPLAIN QUERY PLAN: SCAN): without this, every
// look-up of an app reads the apps table from the start, seconds at 100,000
// apps. FerretDB's own metadata does not list the index and never needs
// to. It is idempotent; call it after EnsureIndexes, which creates every
// collection.
func (e *Embedded) IndexIDPaths(ctx context.Context, database string) error {
	path := filepath.Join(e.dir, database+".sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
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
