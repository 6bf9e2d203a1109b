package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

// BenchmarkUserTokens measures appUser tokens end to end over loopback HTTP
// on the embedded database: the delegated login (no database access once
// warm) against the JWT bearer grant (signature check plus the jti look-up
// and insert of replay protection).
func BenchmarkUserTokens(b *testing.B) {
	in := testserver.Start(b)
	app := in.CreateApp(b, map[string]any{"name": "bench", "environment": "test"})
	k := newAppKey(b, jose.ES256, "k1")
	setAssertionKeys(b, in, app.ClientID, map[string]any{"jwks": jwksJSON(b, k)})
	client := &http.Client{}
	post := func(form url.Values, auth string) {
		req, _ := http.NewRequest(http.MethodPost, in.PublicURL+"/customer_authenticate", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.Run("delegated", func(b *testing.B) {
		auth := basic(app.ClientID, app.ClientSecret)
		for b.Loop() {
			post(url.Values{"customer_id": {"user-1"}}, auth)
		}
	})
	b.Run("jwt-bearer", func(b *testing.B) {
		assertions := make([]string, 0, b.N)
		for range b.N {
			assertions = append(assertions, signJWT(b, jose.ES256, k.priv, "k1", assertionClaims(in, app.ClientID, "user-1")))
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			post(url.Values{"assertion": {assertions[i]}}, "")
		}
	})
}
