package limits

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/users"
)

// LoginLimitConfig bounds failed test-user logins. Each limit is a token
// bucket: Burst failures at once, then one more per Interval.
type LoginLimitConfig struct {
	// UserBurst and UserInterval limit failures per app and username,
	// whether or not such a user exists (default 5, 1m).
	UserBurst    int
	UserInterval time.Duration
	// SourceBurst and SourceInterval limit failures per source address:
	// an IPv4 address or an IPv6 /64 (default 20, 30s).
	SourceBurst    int
	SourceInterval time.Duration
	// Tracked is how many app users and how many sources are remembered,
	// least recently failing forgotten first (default 20,000 each).
	Tracked int
}

// LoginLimiter limits password guessing at the test-user login
// (GrantTypeTestUser): test passwords may be weak, and each check costs
// an argon2id hash. Only wrong passwords count; the limits are checked
// before the password is hashed, a login in flight counts as a failure
// until it is known not to be one, and a limited login gets 429
// temporarily_unavailable with Retry-After, the right password included.
//
// An exhausted source is refused every login. An exhausted app user
// (app and username) stops only sources that have failed logins recently
// themselves: App IDs are public and usernames may be guessed, so a plain
// per-user lock would let anyone keep a test user locked for every test
// harness with one wrong password per interval. A harness from a source
// with a clean record still logs the user in; one that has just failed
// itself is held to the user's limit until its own bucket is full again.
type LoginLimiter struct {
	cfg    LoginLimitConfig
	now    func() time.Time
	limits *failureLimit[string]

	limitedSource, limitedUser atomic.Uint64
}

// NewLoginLimiter returns a limiter; zero fields of cfg take their
// defaults.
func NewLoginLimiter(cfg LoginLimitConfig, now func() time.Time) *LoginLimiter {
	if cfg.UserBurst <= 0 {
		cfg.UserBurst = 5
	}
	if cfg.UserInterval <= 0 {
		cfg.UserInterval = time.Minute
	}
	if cfg.SourceBurst <= 0 {
		cfg.SourceBurst = 20
	}
	if cfg.SourceInterval <= 0 {
		cfg.SourceInterval = 30 * time.Second
	}
	if cfg.Tracked <= 0 {
		cfg.Tracked = 20_000
	}
	return &LoginLimiter{cfg: cfg, now: now,
		limits: newFailureLimit[string](cfg.UserBurst, cfg.UserInterval, cfg.SourceBurst, cfg.SourceInterval, cfg.Tracked)}
}

// errLoginLimited is the answer to a limited login, in the shape of
// ErrRateLimited (429 temporarily_unavailable); use it through RetryAfter.
var errLoginLimited = &fosite.RFC6749Error{
	ErrorField:       "temporarily_unavailable",
	DescriptionField: "Too many failed logins.",
	HintField:        "Retry after the number of seconds in the Retry-After header.",
	CodeField:        http.StatusTooManyRequests,
}

// Begin starts the evaluation of a login of username at appID from the
// source ctx carries (SourceOf). When the login may not be evaluated now
// it returns a 429 error carrying the wait (see RetryAfter). Otherwise it
// counts the login as a failure until done reports its outcome: done must
// be called exactly once, with true for a wrong password. Counting before
// the password is hashed is what holds concurrent guesses to the limits.
func (l *LoginLimiter) Begin(ctx context.Context, appID, username string) (done func(failed bool), err error) {
	release, w, bySource := l.limits.reserve(l.now(), SourceOf(ctx), func() string { return loginKey(appID, username) })
	if release == nil {
		if bySource {
			l.limitedSource.Add(1)
		} else {
			l.limitedUser.Add(1)
		}
		return nil, errLoginLimited.WithWrap(retryAfter(w))
	}
	return func(failed bool) { release(l.now(), failed) }, nil
}

// Limited returns how many logins were refused, by reason.
func (l *LoginLimiter) Limited() (bySource, byUser uint64) {
	return l.limitedSource.Load(), l.limitedUser.Load()
}

// Tracked returns how many app users and sources are remembered.
func (l *LoginLimiter) Tracked() (users, sources int) {
	return l.limits.tracked()
}

// maxLoginKey bounds a remembered app user: an App ID, a separator and
// a username of at most users.MaxUsernameLen characters of up to 4 bytes each;
// anything longer is remembered by its first bytes.
const maxLoginKey = credential.MaxAppIDLen + 1 + 4*users.MaxUsernameLen

func loginKey(appID, username string) string {
	k := appID + "\x00" + username
	if len(k) > maxLoginKey {
		return k[:maxLoginKey]
	}
	return k
}
