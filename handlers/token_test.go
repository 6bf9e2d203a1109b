package handlers

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ory/fosite"
)

// appendAccessResponse must write exactly what fosite's
// WriteAccessResponse writes (encoding/json of ToMap), or decline.
func TestAppendAccessResponseMatchesFosite(t *testing.T) {
	tests := []struct {
		name  string
		build func(r *fosite.AccessResponse)
		fast  bool
	}{
		{"client credentials", func(r *fosite.AccessResponse) {
			r.SetExpiresIn(3600 * 1e9)
			r.SetScopes(fosite.Arguments{"read", "write"})
		}, true},
		{"no scope granted", func(r *fosite.AccessResponse) {
			r.SetExpiresIn(60 * 1e9)
			r.SetScopes(nil)
		}, true},
		{"no expires_in", func(r *fosite.AccessResponse) { r.SetScopes(fosite.Arguments{"read"}) }, true},
		{"negative expires_in", func(r *fosite.AccessResponse) { r.SetExpiresIn(-1e9) }, true},
		{"scope encoding/json escapes", func(r *fosite.AccessResponse) { r.SetScopes(fosite.Arguments{"a<b&c>"}) }, false},
		{"non-ASCII scope", func(r *fosite.AccessResponse) { r.SetScopes(fosite.Arguments{"é"}) }, false},
		{"quote in the token", func(r *fosite.AccessResponse) { r.SetAccessToken(`a"b`) }, false},
		{"extra member", func(r *fosite.AccessResponse) { r.SetExtra("refresh_token", "x") }, false},
		{"expires_in of another type", func(r *fosite.AccessResponse) { r.SetExtra("expires_in", 3600) }, false},
		{"after ToMap", func(r *fosite.AccessResponse) {
			r.SetScopes(fosite.Arguments{"read"})
			r.ToMap()
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fosite.NewAccessResponse()
			r.SetAccessToken("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
			r.SetTokenType("bearer")
			tc.build(r)
			got, ok := appendAccessResponse(nil, r)
			if ok != tc.fast {
				t.Fatalf("fast path %v, want %v", ok, tc.fast)
			}
			if !ok {
				return
			}
			want, err := json.Marshal(r.ToMap())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}
