package authserver

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ory/fosite/token/jwt"
)

// encodeClaims is a faster encoding/json for token claims: it must give
// the very same bytes, for every claim value a token can carry and for
// every string, however odd.
func TestEncodeClaimsMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	typical := (&AccessTokenClaims{
		Issuer: "https://auth.example.com", Subject: "app_live_x", ClientID: "app_live_x",
		Audience: []string{"https://api.example.com"}, Scope: []string{"read", "write"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), JTI: "abc", CredentialScope: ScopeApp, SecretID: "sec_1",
	}).ToMapClaims()
	twoAudiences := (&AccessTokenClaims{Audience: []string{"a", "b"}}).ToMapClaims()
	tests := []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"typical token", typical},
		{"audience array", twoAudiences},
		{"empty", jwt.MapClaims{}},
		{"escapes", jwt.MapClaims{"s": "quote\" backslash\\ <script>&amp; \b\f\n\r\t \x00\x1f \x7f é 漢字 \u2028\u2029 😀"}},
		{"invalid utf-8", jwt.MapClaims{"s": "a\xffb\xc3(c\xed\xa0\x80"}},
		{"odd keys", jwt.MapClaims{"<k>": 1, "": "", "é": true, "z\n": nil}},
		{"int types", jwt.MapClaims{"i": 42, "n": int64(-1 << 62), "b": false}},
		{"nil and empty slices", jwt.MapClaims{"nil": []string(nil), "empty": []string{}}},
		{"other types fall back", jwt.MapClaims{"f": 1.5, "m": map[string]any{"x": 1}, "a": []any{"x", 2}, "s": "y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeClaims(tc.claims)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("encodeClaims = %s, %v\nencoding/json = %s", got, err, want)
			}
		})
	}
	t.Run("random strings", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		alphabet := []string{"a", "\"", "\\", "<", ">", "&", "\x00", "\x1f", "\n", "\u2028", "é", "\xff", "\xe2\x80", "😀", " "}
		for range 5000 {
			var b []byte
			for range r.IntN(12) {
				b = append(b, alphabet[r.IntN(len(alphabet))]...)
			}
			claims := jwt.MapClaims{string(b): string(b), "list": []string{string(b), "x"}}
			want, _ := json.Marshal(claims)
			got, err := encodeClaims(claims)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%q: encodeClaims = %s, %v; encoding/json = %s", b, got, err, want)
			}
		}
	})
}
