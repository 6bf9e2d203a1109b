package tokens

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Introspection.AppendJSON must write what encoding/json writes.
func TestIntrospectionAppendJSONMatchesEncodingJSON(t *testing.T) {
	full := Introspection{
		Active: true, Scope: "read write", ClientID: "app_live_x", Subject: "app_live_x",
		Audience: []string{"https://api.example.com"}, ExpiresAt: 1800003600, IssuedAt: 1800000000, NotBefore: 1800000000,
		Issuer: "https://auth.example.com", JTI: "abc", TokenType: "Bearer", CredentialScope: CredentialScopeApp,
	}
	tests := []struct {
		name string
		in   Introspection
	}{
		{"inactive", Introspection{}},
		{"active, every member", full},
		{"two audiences", Introspection{Active: true, Audience: []string{"a", "b"}}},
		{"empty audience", Introspection{Active: true, Audience: []string{}}},
		{"negative times", Introspection{Active: true, ExpiresAt: -1, IssuedAt: -1 << 40}},
		{"escapes", Introspection{Active: true, Scope: "<&>", Subject: "\"\\\n\u2028\xff", Audience: []string{"é"}}},
		{"dpop bound", Introspection{Active: true, TokenType: TokenTypeDPoP, CredentialScope: CredentialScopeAppUser,
			Confirmation: &Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}},
		{"cnf with escapes", Introspection{Active: true, Confirmation: &Confirmation{JKT: "<\"\xff\u2029"}}},
		{"empty cnf", Introspection{Active: true, Confirmation: &Confirmation{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.in.AppendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("AppendJSON = %s\nencoding/json = %s", got, want)
			}
		})
	}
}
