package adminapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config client/oapi-codegen.yaml openapi.yaml
//go:generate go run ./internal/routetable -doc openapi.yaml -md ../docs/admin-api.md

// Source is the OpenAPI 3.1 document of the admin API as written: YAML.
//
//go:embed openapi.yaml
var Source []byte

// Document returns the OpenAPI 3.1 document of the admin API as indented
// JSON, its keys in the order of Source. It panics if Source is not a
// YAML document that JSON can hold (an anchor, a non-string key): a
// defect of the build that this package's tests catch.
func Document() []byte {
	doc, err := ToJSON(Source)
	if err != nil {
		panic(fmt.Sprintf("adminapi: the embedded openapi.yaml: %v", err))
	}
	return doc
}

// ToJSON converts a YAML document to indented JSON, keeping the order of
// mapping keys. Anchors and aliases are refused, so that what a reader
// sees in the YAML is all there is.
func ToJSON(src []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &root); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("indent JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	if n.Anchor != "" {
		return fmt.Errorf("line %d: anchor &%s: write the value out", n.Line, n.Anchor)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document, got %d", n.Line, len(n.Content))
		}
		return writeJSON(b, n.Content[0])
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
				return fmt.Errorf("line %d: key %q is not a string (quote it)", k.Line, k.Value)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeScalar(b, k.Value); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		switch n.Tag {
		case "!!str", "!!int", "!!float", "!!bool", "!!null":
			if err := n.Decode(&v); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
		default:
			return fmt.Errorf("line %d: value %q of YAML type %s has no JSON form (quote it)", n.Line, n.Value, n.Tag)
		}
		return writeScalar(b, v)
	default:
		return fmt.Errorf("line %d: alias *%s: write the value out", n.Line, n.Value)
	}
	return nil
}

// writeScalar writes v as JSON without escaping <, > and &, which
// descriptions use.
func writeScalar(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}
