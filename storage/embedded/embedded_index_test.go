package embedded_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/embedded"
	"github.com/authserver/authserver/storage/mongodb"
)

// idQueryPlan is SQLite's plan for the query FerretDB v1 sends for a find
// by _id on collection.
func idQueryPlan(t *testing.T, dir, collection string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "authserver.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, collection).Scan(&table); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table), `"x"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// FerretDB v1's find by _id scans the table as shipped; after IndexIDPaths
// it searches an index, and the store still reads and writes through it.
func TestIndexIDPaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := embedded.Start(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	s, err := mongodb.Open(ctx, mongodb.Options{URI: e.URI()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctx) })
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if plan := idQueryPlan(t, dir, "apps"); strings.Contains(plan, "USING INDEX") {
		t.Fatalf("find by _id already uses an index (%q): FerretDB changed; IndexIDPaths may be unnecessary", plan)
	}
	for range 2 { // idempotent
		if err := e.IndexIDPaths(ctx, "authserver"); err != nil {
			t.Fatal(err)
		}
	}
	for _, col := range []string{"apps", "customers", "revoked", "write_claims"} {
		if plan := idQueryPlan(t, dir, col); !strings.Contains(plan, "USING INDEX") {
			t.Errorf("%s: find by _id after IndexIDPaths: plan %q", col, plan)
		}
	}
	if err := s.InsertApp(ctx, storage.App{ID: "app_test_i", Name: "n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateApp(ctx, "app_test_i", func(a *storage.App) error { a.Name = "m"; return nil }); err != nil {
		t.Fatal(err)
	}
	if a, err := s.GetApp(ctx, "app_test_i"); err != nil || a.Name != "m" {
		t.Fatalf("get after index: %+v, %v", a, err)
	}
}
