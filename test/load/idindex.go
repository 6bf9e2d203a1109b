package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// addIDPathIndexes is a what-if for the scale run, never done by the
// server: FerretDB v1.24.2's SQLite backend creates each collection's _id
// index on the expression _ferretdb_sjson->"_id" but pushes find-by-_id
// down as _ferretdb_sjson->'$._id', which SQLite does not match to that
// index (EXPLAIN QUERY PLAN: SCAN), so every GetApp of the embedded
// database reads the apps table from the start until it finds the app.
// This adds an index on the expression the queries use, to every
// collection of the database, so that the load tool can measure what the
// fix would give. The server must not be running on dataDir.
func addIDPathIndexes(ctx context.Context, dataDir, database string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "db", database+".sqlite"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return 0, fmt.Errorf("list collections: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_id_path", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("index %s: %w", t, err)
		}
	}
	return len(tables), nil
}
