package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(Document())
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	return doc
}

// The served document is a valid OpenAPI 3.1 document, and the same as
// its YAML source.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc := loadDocument(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError(), openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableSchemaDefaultsValidation(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v", err)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(Document(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(Source, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, normalize(fromYAML)) {
		t.Error("the JSON document differs from openapi.yaml")
	}
}

// normalize gives a value decoded from YAML the types encoding/json
// decodes to.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	case int:
		return float64(v)
	}
	return v
}

// Every operation states what a client needs: an id, the role it needs,
// and each error it answers in the admin error shape with the codes it
// may carry. The rules a route has (authentication, roles, a JSON body)
// come with their errors.
func TestEveryOperationStatesItsContract(t *testing.T) {
	doc := loadDocument(t)
	rank := map[string]int{"viewer": 1, "admin": 2, "owner": 3}
	ids := map[string]bool{}
	count := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			count++
			name := method + " " + path
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: operationId %q missing or not unique", name, op.OperationID)
			}
			ids[op.OperationID] = true
			public := op.Security != nil && len(*op.Security) == 0
			role := requiredRole(op.Security)
			if public != (role == "") || (!public && rank[role] == 0) {
				t.Errorf("%s: the security requirement names role %q (public: %v); want one of viewer, admin, owner", name, role, public)
			}
			has := func(status int) bool { return op.Responses.Status(status) != nil }
			if !public && !has(http.StatusUnauthorized) {
				t.Errorf("%s: no 401", name)
			}
			if has(http.StatusForbidden) != (rank[role] > rank["viewer"]) {
				t.Errorf("%s: 403 listed: %v, but the role is %q", name, has(http.StatusForbidden), role)
			}
			if op.RequestBody != nil && (!has(http.StatusUnsupportedMediaType) || !has(http.StatusRequestEntityTooLarge) || !has(http.StatusBadRequest)) {
				t.Errorf("%s: takes a body but does not list 400, 413 and 415", name)
			}
			if !has(http.StatusServiceUnavailable) {
				t.Errorf("%s: no 503 (the cap on concurrent requests)", name)
			}
			for code, resp := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: response %q is not a status", name, code)
					continue
				}
				checkResponse(t, name, status, resp.Value)
			}
		}
	}
	if count < 30 {
		t.Errorf("only %d operations", count)
	}
}

func checkResponse(t *testing.T, name string, status int, resp *openapi3.Response) {
	t.Helper()
	mt := resp.Content.Get("application/json")
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified:
		if len(resp.Content) != 0 {
			t.Errorf("%s %d: has a body", name, status)
		}
		return
	case mt == nil || mt.Schema == nil:
		t.Errorf("%s %d: no application/json schema", name, status)
		return
	case status < 400:
		return
	}
	s := mt.Schema.Value
	if !strings.HasSuffix(mt.Schema.Ref, "/schemas/Error") {
		t.Errorf("%s %d: schema %q, want the Error schema", name, status, mt.Schema.Ref)
	}
	codes := errorCodes(s)
	if len(codes) == 0 {
		t.Errorf("%s %d: lists no error code", name, status)
	}
	if slices.Contains(codes, "") {
		t.Errorf("%s %d: empty error code", name, status)
	}
}

// requiredRole returns the role an operation's security requirement
// names: its only requirement is accountKey with one role ("" otherwise).
func requiredRole(sr *openapi3.SecurityRequirements) string {
	if sr == nil || len(*sr) != 1 || len((*sr)[0]) != 1 || len((*sr)[0]["accountKey"]) != 1 {
		return ""
	}
	return (*sr)[0]["accountKey"][0]
}

// errorCodes returns the code enum an error response narrows the Error
// schema to: kin-openapi keeps the keywords written next to a $ref in the
// resolved schema's allOf.
func errorCodes(s *openapi3.Schema) []string {
	var codes []string
	for _, sub := range append([]*openapi3.SchemaRef{{Value: s}}, s.AllOf...) {
		e := sub.Value.Properties["error"]
		if e == nil || e.Value.Properties["code"] == nil {
			continue
		}
		for _, c := range e.Value.Properties["code"].Value.Enum {
			code, _ := c.(string)
			codes = append(codes, code)
		}
	}
	return codes
}

// ToJSON keeps key order and refuses what JSON cannot hold or a reader
// of the YAML would not see.
func TestToJSON(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, json, err string
	}{
		{"order and types", "b: 1\na: [x, 2.5, true, null, '3']\n", `{"b":1,"a":["x",2.5,true,null,"3"]}`, ""},
		{"no HTML escaping", "d: a <b> & c\n", `{"d":"a <b> & c"}`, ""},
		{"anchor", "a: &x {b: 1}\nc: *x\n", "", "anchor &x"},
		{"integer key", "200: ok\n", "", "not a string"},
		{"timestamp", "d: 2024-01-02\n", "", "no JSON form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ToJSON([]byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			_ = json.Indent(&want, []byte(tc.json), "", "  ")
			if string(got) != want.String()+"\n" {
				t.Errorf("got %s, want %s", got, want.String())
			}
		})
	}
}
