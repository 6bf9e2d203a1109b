// Command routetable writes the route table of docs/admin-api.md from the
// admin API's OpenAPI document, between the markers it finds there, so
// that the table and the contract cannot disagree:
//
//	go run ./internal/routetable -doc openapi.yaml -md ../docs/admin-api.md
//
// go generate in adminapi runs it; its test fails when the table is stale.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/authserver/authserver/adminapi"
)

const (
	beginMarker = "<!-- BEGIN route table: generated from adminapi/openapi.yaml by go generate ./adminapi; do not edit -->"
	endMarker   = "<!-- END route table -->"
)

func main() {
	docPath := flag.String("doc", "openapi.yaml", "the OpenAPI document (YAML)")
	mdPath := flag.String("md", "../docs/admin-api.md", "the Markdown file whose route table to write")
	flag.Parse()
	if err := run(*docPath, *mdPath); err != nil {
		fmt.Fprintln(os.Stderr, "routetable:", err)
		os.Exit(1)
	}
}

func run(docPath, mdPath string) error {
	src, err := os.ReadFile(docPath)
	if err != nil {
		return err
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		return err
	}
	out, err := update(src, md)
	if err != nil {
		return fmt.Errorf("%s: %w", mdPath, err)
	}
	if bytes.Equal(out, md) {
		return nil
	}
	return os.WriteFile(mdPath, out, 0o644)
}

// update returns md with the text between its markers replaced by the
// route table of the YAML document src.
func update(src, md []byte) ([]byte, error) {
	doc, err := adminapi.ToJSON(src)
	if err != nil {
		return nil, err
	}
	table, err := render(doc)
	if err != nil {
		return nil, err
	}
	before, rest, ok := bytes.Cut(md, []byte(beginMarker))
	if !ok {
		return nil, errors.New("no begin marker " + beginMarker)
	}
	_, after, ok := bytes.Cut(rest, []byte(endMarker))
	if !ok {
		return nil, errors.New("no end marker " + endMarker)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(beginMarker + "\n")
	b.WriteString(table)
	b.WriteString(endMarker)
	b.Write(after)
	return b.Bytes(), nil
}

type object = map[string]any

// usual are the codes an error status has on every operation that
// answers it; the table names only the others.
var usual = map[string][]string{
	"401": {"unauthenticated"},
	"403": {"forbidden"},
	"413": {"body_too_large"},
	"415": {"unsupported_media_type"},
	"503": {"store_unavailable", "temporarily_unavailable"},
}

// render writes one row per operation, in the document's order: method,
// path under /admin/v1 with its query parameters, role, summary, and
// each status with the error codes it may carry.
func render(docJSON []byte) (string, error) {
	var doc object
	dec := json.NewDecoder(bytes.NewReader(docJSON))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return "", err
	}
	paths, err := orderedKeys(docJSON, "paths")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| method and path | role | what | answers |\n|---|---|---|---|\n")
	for _, path := range paths {
		item := get(doc, "paths", path)
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			op, ok := item[method].(object)
			if !ok {
				continue
			}
			var params []any
			if p, ok := item["parameters"].([]any); ok {
				params = append(params, p...)
			}
			if p, ok := op["parameters"].([]any); ok {
				params = append(params, p...)
			}
			var query []string
			for _, p := range params {
				p := resolve(doc, p)
				if p["in"] == "query" {
					query = append(query, fmt.Sprint(p["name"])+"=")
				}
			}
			route := strings.ToUpper(method) + " " + strings.TrimPrefix(path, "/admin/v1")
			if len(query) > 0 {
				route += "?" + strings.Join(query, "&")
			}
			role := "none"
			if sr, _ := op["security"].([]any); len(sr) == 1 {
				if roles, _ := sr[0].(object)["accountKey"].([]any); len(roles) == 1 {
					role = fmt.Sprint(roles[0])
				}
			}
			answers, err := answers(doc, op)
			if err != nil {
				return "", fmt.Errorf("%s: %w", route, err)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", route, role, op["summary"], answers)
		}
	}
	return b.String(), nil
}

// answers lists an operation's statuses, with the error codes each may
// carry unless they are the usual ones.
func answers(doc, op object) (string, error) {
	responses, _ := op["responses"].(object)
	statuses := make([]string, 0, len(responses))
	for s := range responses {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	var parts []string
	for _, s := range statuses {
		codes := errorCodes(resolve(doc, responses[s]))
		if s >= "400" && len(codes) == 0 {
			return "", fmt.Errorf("status %s lists no error code", s)
		}
		if len(codes) == 0 || slices.Equal(codes, usual[s]) {
			parts = append(parts, s)
			continue
		}
		parts = append(parts, s+" `"+strings.Join(codes, "`, `")+"`")
	}
	return strings.Join(parts, "; "), nil
}

// errorCodes returns the code enum an error response narrows the Error
// schema to.
func errorCodes(resp object) []string {
	schema := get(resp, "content", "application/json", "schema")
	var codes []string
	enum, _ := get(schema, "properties", "error", "properties", "code")["enum"].([]any)
	for _, c := range enum {
		codes = append(codes, fmt.Sprint(c))
	}
	return codes
}

// get follows keys through nested objects; an absent one gives an empty
// object.
func get(o object, keys ...string) object {
	for _, k := range keys {
		next, _ := o[k].(object)
		if next == nil {
			return object{}
		}
		o = next
	}
	return o
}

// resolve follows a local $ref ("#/components/...").
func resolve(doc object, v any) object {
	o, _ := v.(object)
	ref, ok := o["$ref"].(string)
	if !ok {
		return o
	}
	return get(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
}

// orderedKeys returns the keys of the object at key of the JSON document
// in their order there.
func orderedKeys(docJSON []byte, key string) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(docJSON, &top); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(top[key]))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
