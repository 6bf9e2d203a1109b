package test

import (
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

type limitedResponse struct {
	status     int
	body       map[string]any
	retryAfter string
}

// postFrom posts a token-endpoint style form from client (a source
// address).
func postFrom(t testing.TB, client *http.Client, u string, form url.Values, authorization string) limitedResponse {
	t.Helper()
	header := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if authorization != "" {
		header["Authorization"] = authorization
	}
	r := doWith(t, client, http.MethodPost, u, strings.NewReader(form.Encode()), header)
	return limitedResponse{status: r.status, body: r.body, retryAfter: r.header.Get("Retry-After")}
}

// Failed client authentication is limited per client id and per source:
// past the burst, 429 with Retry-After in the RFC 6749 §5.2 shape, the
// same for an existing and an unknown client id; the app's own backend,
// from a source with a clean record, keeps getting tokens while its id is
// under attack; a source past its limit is refused for every id, correct
// credentials included, until its bucket refills (injected clock); the
// introspection endpoint shares the limits; nothing is written.
func TestFailedAuthenticationIsRateLimited(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) {
		c.Limits.ClientFailureBurst, c.Limits.ClientFailureInterval = 3, time.Minute
		c.Limits.SourceFailureBurst, c.Limits.SourceFailureInterval = 6, time.Minute
	})
	app := in.CreateApp(t, map[string]any{"name": "victim"})
	tokenURL := in.PublicURL + "/oauth2/token"
	cc := url.Values{"grant_type": {"client_credentials"}}
	wrong := "sk_live_" + strings.Repeat("0", 49)
	before := in.DumpStore(t)

	// Attacker 1 guesses the victim's secret; attacker 2 an unknown id.
	unknown := "app_live_0000000000000000000000"
	answers := map[string][]limitedResponse{}
	for _, tc := range []struct{ source, id string }{{"127.0.0.2", app.ClientID}, {"127.0.0.3", unknown}} {
		client := clientFrom(tc.source)
		for range 4 {
			answers[tc.id] = append(answers[tc.id], postFrom(t, client, tokenURL, cc, basic(tc.id, wrong)))
		}
	}
	for id, got := range answers {
		for i, r := range got[:3] {
			if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
				t.Fatalf("%s, failure %d: %d %v", id, i+1, r.status, r.body)
			}
		}
		r := got[3]
		if r.status != http.StatusTooManyRequests || r.body["error"] != "temporarily_unavailable" {
			t.Fatalf("%s, past the burst: %d %v", id, r.status, r.body)
		}
		if secs, err := strconv.Atoi(r.retryAfter); err != nil || secs < 1 || secs > 60 {
			t.Fatalf("%s: Retry-After %q", id, r.retryAfter)
		}
	}
	if !reflect.DeepEqual(answers[app.ClientID], answers[unknown]) {
		t.Fatalf("an existing client id is told apart from an unknown one:\n%v\n%v", answers[app.ClientID], answers[unknown])
	}

	// The victim's backend, from a clean source, is not locked out.
	backend := clientFrom("127.0.0.4")
	if r := postFrom(t, backend, tokenURL, cc, basic(app.ClientID, app.ClientSecret)); r.status != http.StatusOK {
		t.Fatalf("the app's backend is locked out by an attack on its id: %d %v", r.status, r.body)
	}
	// The attacker's source stays refused even with the right secret.
	attacker := clientFrom("127.0.0.2")
	if r := postFrom(t, attacker, tokenURL, cc, basic(app.ClientID, app.ClientSecret)); r.status != http.StatusTooManyRequests {
		t.Fatalf("attacker source with the right secret: %d %v", r.status, r.body)
	}

	// A source that spreads its failures over many ids hits the source
	// limit: then every request from it is refused, on the token and the
	// introspection endpoints alike.
	sprayer := clientFrom("127.0.0.5")
	for i := range 6 {
		id := "app_live_" + strings.Repeat(strconv.Itoa(i), 22)
		if r := postFrom(t, sprayer, tokenURL, cc, basic(id, wrong)); r.status != http.StatusUnauthorized {
			t.Fatalf("spray %d: %d %v", i, r.status, r.body)
		}
	}
	other := in.CreateApp(t, map[string]any{"name": "other"})
	for name, u := range map[string]string{"token": tokenURL, "introspect": in.PublicURL + "/oauth2/introspect"} {
		form := cc
		if name == "introspect" {
			form = url.Values{"token": {"x"}}
		}
		if r := postFrom(t, sprayer, u, form, basic(other.ClientID, other.ClientSecret)); r.status != http.StatusTooManyRequests || r.retryAfter == "" {
			t.Fatalf("%s from an exhausted source: %d %v", name, r.status, r.body)
		}
	}

	// Buckets refill with time (the injected clock): 6 minutes give the
	// sprayer its full burst back, a clean record again.
	in.Clock.Advance(6 * time.Minute)
	eventually(t, "the sprayer is served again", func() bool {
		return postFrom(t, sprayer, tokenURL, cc, basic(other.ClientID, other.ClientSecret)).status == http.StatusOK
	})

	// The limits live in memory only: what changed is the apps created
	// here and the last use of the secrets that got tokens.
	after := in.DumpStore(t)
	for _, col := range []string{"apps", "app_changes", "audit", "secret_usage"} {
		delete(before, col)
		delete(after, col)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("the store changed:\nbefore %v\nafter  %v", before, after)
	}
	bySource, byClient := in.Server.Limiter.Limited()
	// By client id: the two attackers' 4th tries and the first attacker
	// with the right secret; by source: the sprayer's two.
	if bySource != 2 || byClient != 3 {
		t.Fatalf("limited by source %d, by client %d", bySource, byClient)
	}
}

// Only a client credential that was presented and was wrong counts
// against the limits: test-user logins and JWT bearer exchanges that send
// none (both may skip client authentication) are not failures, however
// many a source makes, and the app's backend behind the same address keeps
// getting tokens. A wrong credential still counts.
func TestRequestsWithoutClientCredentialsAreNotFailures(t *testing.T) {
	t.Parallel()
	in := startUsers(t, func(c *server.Config) {
		c.Limits.ClientFailureBurst, c.Limits.ClientFailureInterval = 3, time.Hour
		c.Limits.SourceFailureBurst, c.Limits.SourceFailureInterval = 3, time.Hour
	})
	app := createTestApp(t, in, "harness")
	createUser(t, in, app.ClientID, "tester", "correct horse battery", "")
	key := newAppKey(t, jose.ES256, "ec-1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, key)})

	source := clientFrom("127.0.0.7")
	login := url.Values{"client_id": {app.ClientID}, "username": {"tester"}, "password": {"correct horse battery"}}
	for i := range 4 {
		if r := postFrom(t, source, in.PublicURL+"/customer_authenticate", login, ""); r.status != http.StatusOK {
			t.Fatalf("test-user login %d: %d %v", i+1, r.status, r.body)
		}
		form := url.Values{"grant_type": {jwtBearer}, "assertion": {signJWT(t, jose.ES256, key.priv, "ec-1", assertionClaims(in, app.ClientID, "user-1"))}}
		if r := postFrom(t, source, in.PublicURL+"/oauth2/token", form, ""); r.status != http.StatusOK {
			t.Fatalf("JWT bearer exchange %d: %d %v", i+1, r.status, r.body)
		}
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	if r := postFrom(t, source, in.PublicURL+"/oauth2/token", cc, basic(app.ClientID, app.ClientSecret)); r.status != http.StatusOK {
		t.Fatalf("the backend after 8 requests without a client credential: %d %v", r.status, r.body)
	}
	if bySource, byClient := in.Server.Limiter.Limited(); bySource != 0 || byClient != 0 {
		t.Fatalf("limited by source %d, by client %d", bySource, byClient)
	}

	// Three wrong secrets exhaust the source.
	for i := range 3 {
		if r := postFrom(t, source, in.PublicURL+"/oauth2/token", cc, basic(app.ClientID, "sk_test_wrong")); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d %v", i+1, r.status, r.body)
		}
	}
	if r := postFrom(t, source, in.PublicURL+"/oauth2/token", cc, basic(app.ClientID, app.ClientSecret)); r.status != http.StatusTooManyRequests {
		t.Fatalf("after three wrong secrets: %d %v", r.status, r.body)
	}
}
