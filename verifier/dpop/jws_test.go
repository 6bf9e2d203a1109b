package dpop

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"unicode/utf8"
)

// referenceReadObject is readObject written with encoding/json's
// Decoder.Token: slower, and the reference FuzzReadObject holds readObject
// to.
func referenceReadObject(data []byte) (names []string, values [][]byte, ok bool) {
	if !utf8.Valid(data) {
		return nil, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		name, isName := t.(string)
		if err != nil || !isName || len(names) == maxMembers || slices.Contains(names, name) {
			return nil, nil, false
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, nil, false
		}
		names = append(names, name)
		values = append(values, value)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, false
	}
	return names, values, true
}

// FuzzReadObject: readObject accepts exactly what the reference accepts,
// with the same names and values, in the same order; and a string value
// decodes as encoding/json decodes it.
func FuzzReadObject(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"]}"}], "d":"x\"y" } `, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`,
		`{"a":true,"b":null,"c":-1.5e3,"d":{"e":{}}}`, `[]`, `{"a":1}{}`, `{"a":1,}`, `{"a"}`, `"x"`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"l8tF","y":"9VE4"}}`,
		`{"a":"\ud83d\ude00","b":"\/"}`, "{\"a\":\"\xff\"}", ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var names []string
		var values [][]byte
		err := readObject(data, func(name string, value []byte) error {
			names = append(names, name)
			values = append(values, value)
			return nil
		})
		refNames, refValues, ok := referenceReadObject(data)
		if (err == nil) != ok {
			t.Fatalf("readObject(%q) error %v, reference ok %v", data, err, ok)
		}
		if !ok {
			return
		}
		if !slices.Equal(names, refNames) || len(values) != len(refValues) {
			t.Fatalf("readObject(%q) names %q, reference %q", data, names, refNames)
		}
		for i := range values {
			if !bytes.Equal(values[i], refValues[i]) {
				t.Fatalf("readObject(%q) value %d = %q, reference %q", data, i, values[i], refValues[i])
			}
			s, isString := jsonString(values[i])
			var ref string
			refErr := json.Unmarshal(values[i], &ref)
			refIsString := refErr == nil && values[i][0] == '"'
			if isString != refIsString || s != ref {
				t.Fatalf("jsonString(%q) = %q, %v; encoding/json %q, %v", values[i], s, isString, ref, refErr)
			}
		}
	})
}
