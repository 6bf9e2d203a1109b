package limits

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/clientauth"
)

func failingStrategy(context.Context, *http.Request, url.Values) (fosite.Client, error) {
	return nil, clientauth.Failed()
}

func requestFrom(remote, clientID string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	r.RemoteAddr = remote
	r.SetBasicAuth(clientID, "wrong")
	return r.WithContext(from(remote))
}

// from is a context whose source (WithSource) is the IPv4 address of
// remote, "address:port", as the HTTP layer computes it.
func from(remote string) context.Context {
	p, err := netip.MustParseAddrPort(remote).Addr().Prefix(32)
	if err != nil {
		panic(err)
	}
	return WithSource(context.Background(), p)
}

// However many distinct client ids and sources an attacker sends, the
// limiter remembers at most Tracked of each, and ids are remembered by a
// bounded prefix.
func TestAuthLimiterMemoryIsBounded(t *testing.T) {
	now := time.Now()
	l := NewAuthLimiter(AuthLimitConfig{Tracked: 100, SourceBurst: 1 << 30, ClientBurst: 1}, func() time.Time { return now })
	auth := l.Wrap(failingStrategy)
	for i := range 20_000 {
		id := fmt.Sprintf("app_live_%d%s", i, strings.Repeat("x", 1000))
		remote := fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)
		if _, err := auth(from(remote), requestFrom(remote, id), url.Values{}); err == nil {
			t.Fatal("a failing strategy succeeded")
		}
	}
	clients, sources := l.Tracked()
	if clients > 100 || sources > 100 {
		t.Fatalf("tracked %d client ids and %d sources, want at most 100 each", clients, sources)
	}
	for _, k := range l.limits.keys.Keys() {
		if len(k) > maxLimitKey {
			t.Fatalf("a remembered client id is %d bytes long", len(k))
		}
	}
}

// However many app users and sources a guesser sends, the login limiter
// remembers at most Tracked of each, and app users by a bounded prefix; a
// request without a known source is one "unknown" source.
func TestLoginLimiterMemoryIsBounded(t *testing.T) {
	now := time.Now()
	l := NewLoginLimiter(LoginLimitConfig{Tracked: 100, SourceBurst: 1 << 30, UserBurst: 1}, func() time.Time { return now })
	for i := range 20_000 {
		remote := fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)
		failed(t, l, from(remote), "app_test_0000000000000000000000", fmt.Sprintf("user%d%s", i, strings.Repeat("é", 1000)))
	}
	users, sources := l.Tracked()
	if users > 100 || sources > 100 {
		t.Fatalf("tracked %d app users and %d sources, want at most 100 each", users, sources)
	}
	for _, k := range l.limits.keys.Keys() {
		if len(k) > maxLoginKey {
			t.Fatalf("a remembered app user is %d bytes long", len(k))
		}
	}
	unknown := context.Background()
	failed(t, l, unknown, "app_test_0000000000000000000000", "tester")
	if err := check(l, unknown, "app_test_0000000000000000000000", "other"); err != nil {
		t.Fatalf("another user from the unknown source: %v", err)
	}
	if err := check(l, unknown, "app_test_0000000000000000000000", "tester"); err == nil {
		t.Fatal("the unknown source is not held to the user it failed")
	}
}

// A limited login waits until the next failure is allowed: the user's
// bucket for a source that failed itself, the source's for every user.
func TestLoginLimiterRetryAfter(t *testing.T) {
	now := time.Now()
	l := NewLoginLimiter(LoginLimitConfig{UserBurst: 2, UserInterval: time.Minute, SourceBurst: 3, SourceInterval: 10 * time.Minute},
		func() time.Time { return now })
	a := from("192.0.2.1:1")
	failed(t, l, a, "app_test_x", "tester")
	failed(t, l, a, "app_test_x", "tester")
	err := check(l, a, "app_test_x", "tester")
	if secs, ok := RetryAfter(err); !ok || secs != 60 || fosite.ErrorToRFC6749Error(err).CodeField != http.StatusTooManyRequests {
		t.Fatalf("exhausted user: %v, Retry-After %d", err, secs)
	}
	if err := check(l, a, "app_test_x", "other"); err != nil {
		t.Fatalf("another user from the same source: %v", err)
	}
	if err := check(l, from("192.0.2.2:1"), "app_test_x", "tester"); err != nil {
		t.Fatalf("a clean source: %v", err)
	}
	if err := check(l, a, "app_test_y", "tester"); err != nil {
		t.Fatalf("the same username at another app: %v", err)
	}
	failed(t, l, a, "app_test_x", "other")
	if secs, ok := RetryAfter(check(l, a, "app_test_x", "other")); !ok || secs != 600 {
		t.Fatalf("exhausted source: Retry-After %d %v, want 600", secs, ok)
	}
	if bySource, byUser := l.Limited(); bySource != 1 || byUser != 1 {
		t.Fatalf("limited by source %d, by user %d", bySource, byUser)
	}
}

// The limit is on failures only, keyed on the presented id whether or not
// it exists, and the wait it announces is when the next failure is allowed.
func TestAuthLimiterRetryAfter(t *testing.T) {
	now := time.Now()
	l := NewAuthLimiter(AuthLimitConfig{ClientBurst: 2, ClientInterval: 10 * time.Second, SourceBurst: 100, SourceInterval: time.Hour}, func() time.Time { return now })
	auth := l.Wrap(failingStrategy)
	call := func() error {
		_, err := auth(from("192.0.2.1:1"), requestFrom("192.0.2.1:1", "app_live_x"), url.Values{})
		return err
	}
	for i := range 2 {
		if err := call(); fosite.ErrorToRFC6749Error(err).CodeField != http.StatusUnauthorized {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	err := call()
	secs, ok := RetryAfter(err)
	if !ok || secs != 10 || fosite.ErrorToRFC6749Error(err).CodeField != http.StatusTooManyRequests {
		t.Fatalf("third: %v, Retry-After %d %v", err, secs, ok)
	}
	now = now.Add(4 * time.Second)
	if secs, _ := RetryAfter(call()); secs != 6 {
		t.Fatalf("4 s later: Retry-After %d, want 6", secs)
	}
	now = now.Add(6 * time.Second)
	if err := call(); fosite.ErrorToRFC6749Error(err).CodeField != http.StatusUnauthorized {
		t.Fatalf("after the wait: %v", err)
	}
	if _, ok := RetryAfter(clientauth.Failed()); ok {
		t.Fatal("RetryAfter on a plain invalid_client")
	}
}

func TestPresentedClientID(t *testing.T) {
	assertion := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHBfbGl2ZV9hc3NlcnRlZCJ9.sig" // {"sub":"app_live_asserted"}
	tests := []struct {
		name  string
		basic string
		form  url.Values
		want  string
	}{
		{"basic", "app_live_b", url.Values{"client_id": {"app_live_f"}}, "app_live_b"},
		{"form", "", url.Values{"client_id": {"app_live_f"}}, "app_live_f"},
		{"assertion", "", url.Values{"client_assertion": {assertion}}, "app_live_asserted"},
		{"garbage assertion", "", url.Values{"client_assertion": {"a.b.c"}}, ""},
		{"none", "", url.Values{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tc.basic != "" {
				r.SetBasicAuth(tc.basic, "s")
			}
			if got := presentedClientID(r, tc.form); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkAuthLimiterSuccess is what the limiter adds to a successful
// client authentication, the token endpoint's hot path.
func BenchmarkAuthLimiterSuccess(b *testing.B) {
	l := NewAuthLimiter(AuthLimitConfig{}, time.Now)
	ok := func(context.Context, *http.Request, url.Values) (fosite.Client, error) { return nil, nil }
	auth := l.Wrap(ok)
	// Some failures elsewhere, so that the sets are not empty.
	fail := l.Wrap(failingStrategy)
	for i := range 1000 {
		remote := fmt.Sprintf("10.0.%d.%d:1", i>>8, i&255)
		_, _ = fail(from(remote), requestFrom(remote, fmt.Sprintf("app_live_%d", i)), url.Values{})
	}
	r := requestFrom("192.0.2.1:1234", "app_live_abcdefghijklmnopqrstuv")
	ctx := r.Context()
	form := url.Values{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = auth(ctx, r, form)
		}
	})
}

// check asks l whether a login may be evaluated and, if so, ends it as a
// success (which gives its reservation back).
// failed is a wrong password for username at appID from ctx's source: a
// login begun and reported failed. The login must not be limited.
func failed(t *testing.T, l *LoginLimiter, ctx context.Context, appID, username string) {
	t.Helper()
	done, err := l.Begin(ctx, appID, username)
	if err != nil {
		t.Fatalf("login of %s at %s: %v", username, appID, err)
	}
	done(true)
}

func check(l *LoginLimiter, ctx context.Context, appID, username string) error {
	done, err := l.Begin(ctx, appID, username)
	if err == nil {
		done(false)
	}
	return err
}

// Logins in flight count as failures until their outcome is known: a
// source that sends many logins at once has no more evaluated than its
// limits allow, and logins that turn out right give their tokens back.
func TestLoginLimiterCountsLoginsInFlight(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name          string
		cfg           LoginLimitConfig
		users         int  // distinct usernames, round robin
		outcome       bool // what every evaluated login turns out to be (true: wrong)
		wantEvaluated int
	}{
		// The first login of a clean source is held to the source's
		// bucket only; every later one to the user's too.
		{"one user", LoginLimitConfig{UserBurst: 5, SourceBurst: 20}, 1, true, 1 + 5},
		{"many users, the source's limit", LoginLimitConfig{UserBurst: 5, SourceBurst: 20}, 100, true, 20},
		{"right passwords hold nothing while in flight either", LoginLimitConfig{UserBurst: 5, SourceBurst: 20}, 1, false, 1 + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoginLimiter(tc.cfg, clock)
			src := from("198.51.100.7:1")
			var pending []func(bool)
			for i := range 400 {
				done, err := l.Begin(src, "app_test_x", fmt.Sprintf("user%d", i%tc.users))
				if err != nil {
					if _, ok := RetryAfter(err); !ok {
						t.Fatalf("login %d: %v, want a rate-limit answer", i, err)
					}
					continue
				}
				pending = append(pending, done)
			}
			if len(pending) != tc.wantEvaluated {
				t.Fatalf("%d of 400 concurrent logins were let through, want %d", len(pending), tc.wantEvaluated)
			}
			for _, done := range pending {
				done(tc.outcome)
			}
			err := check(l, src, "app_test_x", "user0")
			if tc.outcome && err == nil {
				t.Fatal("after its failures the source may still log in")
			}
			if !tc.outcome && err != nil {
				t.Fatalf("after right passwords only: %v", err)
			}
		})
	}
}
