package test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authserver/authserver/adminapi"
	"github.com/authserver/authserver/test/testserver"
)

// GET /admin/v1/openapi.json answers, without a key, the valid OpenAPI 3.1
// document every admin exchange of the suite is checked against.
func TestOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	r := adminCall(t, in, "-", http.MethodGet, "/admin/v1/openapi.json", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, adminapi.Document()) {
		t.Fatalf("%d %v: %.200s", r.status, r.header, r.body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q: %v", doc.OpenAPI, err)
	}
	if r := adminCall(t, in, "-", http.MethodPost, "/admin/v1/openapi.json", map[string]any{}); r.status != http.StatusMethodNotAllowed || r.code() != "method_not_allowed" {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
}

// The role the document states for each operation (the role its security
// requirement names) is the one the server enforces: a lesser role gets 403 forbidden, that role
// and the ones above it get through. Driven by the document, so a new
// operation is in this matrix as soon as it is documented; the contract
// check sees every answer.
func TestContractRoles(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	_, adminKey := createAccountKey(t, in, "ops", "admin")
	_, viewerKey := createAccountKey(t, in, "dashboard", "viewer")
	app := in.CreateApp(t, map[string]any{"name": "contract", "environment": "test"})
	doc, err := openapi3.NewLoader().LoadFromData(adminapi.Document())
	if err != nil {
		t.Fatal(err)
	}
	placeholders := strings.NewReplacer("{id}", app.ClientID, "{sid}", "sec_0000000000000000", "{kid}", "nope", "{username}", "nobody")
	rank := map[string]int{"viewer": 1, "admin": 2, "owner": 3}
	keys := map[string]string{"viewer": viewerKey, "admin": adminKey, "owner": in.AdminKey}

	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	ops := 0
	for _, path := range paths {
		for method, op := range doc.Paths.Value(path).Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // the document's own route
			}
			var need string
			if sr := op.Security; sr != nil && len(*sr) == 1 && len((*sr)[0]["accountKey"]) == 1 {
				need = (*sr)[0]["accountKey"][0]
			}
			ops++
			url := placeholders.Replace(path)
			if strings.HasPrefix(path, "/admin/v1/account-keys/") {
				url = "/admin/v1/account-keys/acck_00000000000000000"
			}
			if p := op.Parameters.GetByInAndName("query", "confirm"); p != nil {
				url += "?confirm=" + url[strings.LastIndex(url, "/")+1:]
			}
			var body map[string]any
			if op.RequestBody != nil {
				body = map[string]any{}
			}
			for _, role := range []string{"viewer", "admin", "owner"} {
				r := adminCall(t, in, keys[role], method, url, body)
				switch {
				case rank[role] < rank[need] && (r.status != http.StatusForbidden || r.code() != "forbidden"):
					t.Errorf("%s %s as %s: %d %s, want 403 forbidden (role %q)", method, path, role, r.status, r.body, need)
				case rank[role] >= rank[need] && (r.status == http.StatusUnauthorized || r.status == http.StatusForbidden):
					t.Errorf("%s %s as %s: %d %s, want it allowed (role %q)", method, path, role, r.status, r.body, need)
				}
			}
		}
	}
	if ops < 29 {
		t.Errorf("only %d operations with a role", ops)
	}
	if n := in.Contract.Checked(); n < 3*ops {
		t.Errorf("the contract checked %d exchanges, fewer than this test made", n)
	}
}
