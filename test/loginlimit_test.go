package test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// gathered reads one sample of the instance's metrics from its registry
// (-1 if there is none), wherever the metrics are served.
func gathered(t testing.TB, in *testserver.Instance, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := in.Server.Metrics.Registry().Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	return value(byName, name, labels)
}

// passwordHashes is how many argon2id hashes the instance has computed.
func passwordHashes(t testing.TB, in *testserver.Instance) float64 {
	t.Helper()
	n := gathered(t, in, "authserver_password_hashes_total", nil)
	if n < 0 {
		t.Fatal("no authserver_password_hashes_total metric")
	}
	return n
}

// Guessing a test user's password is limited per app and username and per
// source, before any password is hashed: past the burst, 429 with
// Retry-After, the right password included. A tester from another
// address, with a clean record, still logs the user in (App IDs are
// public: anyone could otherwise lock a test user out); once it has
// failed itself it is held to the user's limit too. A source that spreads
// its guesses over usernames meets its own limit. Buckets refill with time.
func TestTestUserPasswordGuessingIsLimited(t *testing.T) {
	t.Parallel()
	in := startUsers(t, func(c *server.Config) {
		c.Limits.LoginUserFailureBurst, c.Limits.LoginUserFailureInterval = 3, time.Minute
		c.Limits.LoginSourceFailureBurst, c.Limits.LoginSourceFailureInterval = 6, time.Minute
	})
	app := createTestApp(t, in, "harness")
	const password = "correct horse battery"
	createUser(t, in, app.ClientID, "tester", password, "")
	createUser(t, in, app.ClientID, "other", password, "")
	login := func(client *http.Client, user, pw string) limitedResponse {
		t.Helper()
		return postFrom(t, client, in.PublicURL+"/customer_authenticate",
			url.Values{"client_id": {app.ClientID}, "username": {user}, "password": {pw}}, "")
	}
	wantStatus := func(what string, r limitedResponse, status int, code string) {
		t.Helper()
		if r.status != status || (code != "" && r.body["error"] != code) {
			t.Fatalf("%s: %d %v, want %d %s", what, r.status, r.body, status, code)
		}
	}

	guesser := clientFrom("127.0.0.21")
	for i := range 3 {
		wantStatus(fmt.Sprintf("guess %d", i+1), login(guesser, "tester", fmt.Sprintf("guess %d", i+1)), 400, "invalid_grant")
	}
	hashes := passwordHashes(t, in)
	r := login(guesser, "tester", "guess 4")
	wantStatus("guess 4", r, http.StatusTooManyRequests, "temporarily_unavailable")
	if secs, err := strconv.Atoi(r.retryAfter); err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After %q", r.retryAfter)
	}
	wantStatus("the right password from the guesser", login(guesser, "tester", password), http.StatusTooManyRequests, "temporarily_unavailable")
	if n := passwordHashes(t, in); n != hashes {
		t.Fatalf("refused logins computed %v password hashes", n-hashes)
	}

	tester := clientFrom("127.0.0.22")
	wantStatus("a tester elsewhere", login(tester, "tester", password), http.StatusOK, "")
	wantStatus("the tester's typo", login(tester, "tester", "typo"), 400, "invalid_grant")
	wantStatus("the tester after its typo", login(tester, "tester", password), http.StatusTooManyRequests, "temporarily_unavailable")

	sprayer := clientFrom("127.0.0.23")
	for i := range 6 {
		wantStatus(fmt.Sprintf("spray %d", i+1), login(sprayer, fmt.Sprintf("user%d", i), "guess"), 400, "invalid_grant")
	}
	wantStatus("an untouched user from the sprayer", login(sprayer, "other", password), http.StatusTooManyRequests, "temporarily_unavailable")
	wantStatus("the untouched user from the tester", login(tester, "other", password), http.StatusOK, "")

	bySource := gathered(t, in, "authserver_rate_limited_requests_total", map[string]string{"reason": "login_source"})
	byUser := gathered(t, in, "authserver_rate_limited_requests_total", map[string]string{"reason": "login_user"})
	if bySource != 1 || byUser != 3 {
		t.Fatalf("logins limited by source %v, by user %v; want 1 and 3", bySource, byUser)
	}

	in.Clock.Advance(10 * time.Minute)
	wantStatus("the guesser's source ten minutes later", login(guesser, "tester", password), http.StatusOK, "")
	wantStatus("the sprayer ten minutes later", login(sprayer, "other", password), http.StatusOK, "")
}

// Only test-environment apps have test users: a login naming a live app
// is refused before any password is hashed, and so is one naming an
// unknown app (the endpoint would otherwise turn any App ID into an
// argon2id computation per request). A wrong password for a test app
// does cost a hash: the measure counts.
func TestLoginOfANonTestAppHashesNothing(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	live := in.CreateApp(t, map[string]any{"name": "live", "environment": "live"})
	app := createTestApp(t, in, "harness")
	createUser(t, in, app.ClientID, "tester", "correct horse battery", "")
	tests := []struct {
		name     string
		form     url.Values
		auth     string
		status   int
		code     string
		computed float64
	}{
		{"live app", url.Values{"client_id": {live.ClientID}, "username": {"tester"}, "password": {"guess"}}, "", 400, "unauthorized_client", 0},
		{"live app with its secret", url.Values{"username": {"tester"}, "password": {"guess"}}, basic(live.ClientID, live.ClientSecret), 400, "unauthorized_client", 0},
		{"live-looking unknown app", url.Values{"client_id": {"app_live_0000000000000000000000"}, "username": {"tester"}, "password": {"guess"}}, "", 401, "invalid_client", 0},
		{"unknown test app", url.Values{"client_id": {"app_test_0000000000000000000000"}, "username": {"tester"}, "password": {"guess"}}, "", 401, "invalid_client", 0},
		{"test app, wrong password", url.Values{"client_id": {app.ClientID}, "username": {"tester"}, "password": {"guess"}}, "", 400, "invalid_grant", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := passwordHashes(t, in)
			r := postFrom(t, http.DefaultClient, in.PublicURL+"/customer_authenticate", tc.form, tc.auth)
			if r.status != tc.status || r.body["error"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if n := passwordHashes(t, in) - before; n != tc.computed {
				t.Fatalf("%v password hashes computed, want %v", n, tc.computed)
			}
		})
	}
}

// Logins sent all at once are counted as they start, not as they fail: a
// source that fires many guesses concurrently has no more of them
// evaluated (hashed) than its limits allow.
func TestConcurrentPasswordGuessesAreLimited(t *testing.T) {
	t.Parallel()
	const userBurst, sourceBurst = 3, 6
	in := startUsers(t, func(c *server.Config) {
		c.Limits.LoginUserFailureBurst, c.Limits.LoginUserFailureInterval = userBurst, time.Minute
		c.Limits.LoginSourceFailureBurst, c.Limits.LoginSourceFailureInterval = sourceBurst, time.Minute
	})
	app := createTestApp(t, in, "harness")
	createUser(t, in, app.ClientID, "tester", "correct horse battery", "")
	guesser := clientFrom("127.0.0.24")
	hashes := passwordHashes(t, in)

	const guesses = 40
	statuses := make(chan int, guesses)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			form := url.Values{"client_id": {app.ClientID}, "username": {"tester"}, "password": {fmt.Sprintf("guess %d", i)}}
			resp, err := guesser.PostForm(in.PublicURL+"/customer_authenticate", form)
			if err != nil {
				t.Errorf("guess %d: %v", i, err) // t.Fatal belongs to the test's goroutine
				return
			}
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	// The source's first login is held to the source's bucket alone, every
	// later one to the user's too: at most 1 + userBurst are evaluated.
	if evaluated := count[http.StatusBadRequest]; evaluated < 1 || evaluated > 1+userBurst || count[http.StatusTooManyRequests] != guesses-evaluated {
		t.Fatalf("statuses of %d concurrent wrong passwords: %v; want at most %d evaluated (400), the rest 429", guesses, count, 1+userBurst)
	}
	if n := passwordHashes(t, in) - hashes; n != float64(count[http.StatusBadRequest]) {
		t.Fatalf("%v password hashes for %d evaluated logins", n, count[http.StatusBadRequest])
	}
}
