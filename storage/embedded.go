package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is an in-process FerretDB (SQLite backend, pure Go) listening on
// a loopback port. It is the default database when no MongoDB URI is
// configured, and what the tests run against.
type Embedded struct {
	db     *ferretdb.FerretDB
	cancel context.CancelFunc
	done   chan struct{}
	uri    string
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
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{db: db, cancel: cancel, done: make(chan struct{}), uri: db.MongoDBURI()}
	go func() {
		defer close(e.done)
		_ = db.Run(ctx)
	}()
	return e, nil
}

// URI is the mongodb:// connection string of the embedded server.
func (e *Embedded) URI() string { return e.uri }

// Stop shuts FerretDB down and waits until its files are closed.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}
