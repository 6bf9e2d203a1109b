package main

import (
	"os"
	"strings"
	"testing"

	"github.com/authserver/authserver/adminapi"
)

// The route table of docs/admin-api.md is the one the document gives:
// after a change to openapi.yaml, go generate ./adminapi writes it.
func TestRouteTableIsCurrent(t *testing.T) {
	md, err := os.ReadFile("../../../docs/admin-api.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := update(adminapi.Source, md)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(md) {
		t.Error("docs/admin-api.md's route table is stale: run go generate ./adminapi")
	}
}

// Every operation has its row, with its role and codes.
func TestRenderListsEveryOperation(t *testing.T) {
	table, err := render(adminapi.Document())
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(table), "\n")[2:]
	if n := strings.Count(string(adminapi.Source), "operationId:"); len(rows) != n {
		t.Errorf("%d rows for %d operations", len(rows), n)
	}
	for _, want := range []string{
		"| `GET /apps?name=&limit=&after=` | viewer | List apps, by id | 200; 400 `invalid_limit`; 401; 503 |",
		"| `DELETE /account-keys/{id}` | owner |",
		"409 `last_owner`, `concurrent_update`",
		"| `GET /openapi.json` | none |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("no %q in\n%s", want, table)
		}
	}
}
