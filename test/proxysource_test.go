package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// Behind a trusted proxy (limits.trusted_proxies) the failure limiters
// count the client X-Forwarded-For names, not the proxy: past a source's
// burst, the address the proxy names is refused (429) at the token and
// the introspection endpoint alike, while another address behind the same
// proxy is still evaluated (401). The HTTP layer computes the source and
// hands it down to the limiters.
func TestTrustedProxySources(t *testing.T) {
	in := testserver.Start(t, func(c *server.Config) {
		c.Limits.TrustedProxies = "127.0.0.0/8"
		c.Limits.SourceFailureBurst, c.Limits.SourceFailureInterval = 2, time.Hour
		c.Limits.ClientFailureBurst = 1000
	})
	unknown := "app_live_0000000000000000000000"
	wrong := "sk_live_" + strings.Repeat("0", 49)
	post := func(path string, form url.Values, forwardedFor string) response {
		return doWith(t, http.DefaultClient, http.MethodPost, in.PublicURL+path, strings.NewReader(form.Encode()), map[string]string{
			"Content-Type":    "application/x-www-form-urlencoded",
			"Authorization":   basic(unknown, wrong),
			"X-Forwarded-For": forwardedFor + ", 127.0.0.9",
		})
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if r := post("/oauth2/token", cc, "198.51.100.1"); r.status != want {
			t.Fatalf("failure %d from 198.51.100.1: %d %v, want %d", i+1, r.status, r.body, want)
		}
	}
	if r := post("/oauth2/introspect", url.Values{"token": {"x"}}, "198.51.100.1"); r.status != http.StatusTooManyRequests {
		t.Fatalf("introspection from the exhausted source: %d %v", r.status, r.body)
	}
	if r := post("/oauth2/token", cc, "198.51.100.2"); r.status != http.StatusUnauthorized {
		t.Fatalf("another client behind the same proxy: %d %v, want 401", r.status, r.body)
	}
}
