package limits

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/users"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ory/fosite"
	"golang.org/x/time/rate"
)

// AuthLimitConfig bounds failed client authentication. Each limit is a
// token bucket: Burst failures at once, then one more per Interval.
type AuthLimitConfig struct {
	// ClientBurst and ClientInterval limit failures per presented client
	// id, whether or not such a client exists (default 10, 6s).
	ClientBurst    int
	ClientInterval time.Duration
	// SourceBurst and SourceInterval limit failures per source address:
	// an IPv4 address or an IPv6 /64 (default 30, 2s).
	SourceBurst    int
	SourceInterval time.Duration
	// Tracked is how many client ids and how many sources are remembered,
	// least recently failing forgotten first: it bounds the limiter's
	// memory however many distinct ids an attacker sends (default 20,000
	// each; about 300 bytes per id or source remembered, 12 MB when both
	// sets are full).
	Tracked int
}

// maxLimitKey bounds the length of a remembered client id: ids are at most
// maxClientIDLen, anything longer is remembered by its first bytes.
const maxLimitKey = credential.MaxAppIDLen + 1

// AuthLimiter limits failed client authentication per presented client id
// and per source address (docs/architecture.md, "Abuse resistance").
// Only failures (401 invalid_client) of a credential the request presented
// count; a limited request gets 429 with Retry-After in the RFC 6749 §5.2
// error shape before any credential is looked at.
//
// The App ID is public by design (it is safe in front-end code), so
// anyone can send failures for any app: a per-id lock that also stopped
// the app's own backend would hand every visitor a switch to turn it off.
// So an exhausted client id stops only sources that have themselves
// failed recently; a source with a clean record still gets its request
// evaluated (and one failure makes it unclean). An exhausted source is
// stopped for every id. Nothing depends on whether the id exists.
type AuthLimiter struct {
	cfg    AuthLimitConfig
	now    func() time.Time
	limits *failureLimit[string]

	limitedSource, limitedClient atomic.Uint64
}

// NewAuthLimiter returns a limiter; zero fields of cfg take their defaults.
func NewAuthLimiter(cfg AuthLimitConfig, now func() time.Time) *AuthLimiter {
	if cfg.ClientBurst <= 0 {
		cfg.ClientBurst = 10
	}
	if cfg.ClientInterval <= 0 {
		cfg.ClientInterval = 6 * time.Second
	}
	if cfg.SourceBurst <= 0 {
		cfg.SourceBurst = 30
	}
	if cfg.SourceInterval <= 0 {
		cfg.SourceInterval = 2 * time.Second
	}
	if cfg.Tracked <= 0 {
		cfg.Tracked = 20_000
	}
	return &AuthLimiter{cfg: cfg, now: now,
		limits: newFailureLimit[string](cfg.ClientBurst, cfg.ClientInterval, cfg.SourceBurst, cfg.SourceInterval, cfg.Tracked)}
}

// ErrRateLimited is the answer to a limited request: 429 in the RFC 6749
// §5.2 shape. RFC 6749 has no code of its own for it; temporarily_unavailable
// says what it means to a client (retry later, after Retry-After) without
// saying anything about the client id. Use it through RetryAfter.
var ErrRateLimited = &fosite.RFC6749Error{
	ErrorField:       "temporarily_unavailable",
	DescriptionField: "Too many failed client authentication attempts.",
	HintField:        "Retry after the number of seconds in the Retry-After header.",
	CodeField:        http.StatusTooManyRequests,
}

// retryAfter carries the wait of a limited request inside ErrRateLimited.
type retryAfter time.Duration

func (r retryAfter) Error() string { return fmt.Sprintf("retry after %v", time.Duration(r)) }

// RetryAfter returns the whole seconds a client should wait (Retry-After,
// RFC 9110 §10.2.3) if err is a rate-limit answer.
func RetryAfter(err error) (seconds int, ok bool) {
	var r retryAfter
	if !errors.As(err, &r) {
		return 0, false
	}
	return max(1, int(math.Ceil(time.Duration(r).Seconds()))), true
}

func rateLimited(wait time.Duration) error {
	return ErrRateLimited.WithWrap(retryAfter(wait))
}

// Wrap returns next guarded by the limiter: limited requests fail with
// ErrRateLimited before next runs, failures of next are counted.
func (l *AuthLimiter) Wrap(next fosite.ClientAuthenticationStrategy) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		now := l.now()
		src := SourceOf(ctx)
		// A source with a clean record (the common case: not tracked)
		// costs one look-up; the client id is read only for a source that
		// has failed recently.
		if w, bySource := l.limits.check(now, src, func() string { return limitKey(presentedClientID(r, form)) }); w > 0 {
			if bySource {
				l.limitedSource.Add(1)
			} else {
				l.limitedClient.Add(1)
			}
			return nil, rateLimited(w)
		}
		client, err := next(ctx, r, form)
		// A request that sends no credential (the grants that may skip
		// client authentication, which fosite still runs this for) has
		// guessed nothing: only a credential presented and wrong counts.
		if err != nil && presentsCredential(r, form) && fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrInvalidClient.ErrorField {
			l.limits.failSource(now, src)
			if id := limitKey(presentedClientID(r, form)); id != "" {
				l.limits.failKey(now, id)
			}
		}
		return client, err
	}
}

// failureLimit counts failures in two LRU-bounded sets of token buckets,
// one per key (a client id, an app user) and one per source, and decides
// which requests to refuse before they are evaluated. An exhausted source
// is refused for every key. An exhausted key refuses only sources that
// have failed recently themselves (whose bucket is not full): keys such as
// App IDs are public, and a plain per-key lock would hand anyone a switch
// that turns a client or a test user off for everyone.
type failureLimit[K comparable] struct {
	keyBurst, sourceBurst       int
	keyInterval, sourceInterval time.Duration
	keys                        *lru.Cache[K, *rate.Limiter]
	// sources are keyed by an IPv4 /32 or an IPv6 /64: a comparable
	// value, no allocation per request.
	sources *lru.Cache[netip.Prefix, *rate.Limiter]
}

func newFailureLimit[K comparable](keyBurst int, keyInterval time.Duration, sourceBurst int, sourceInterval time.Duration, tracked int) *failureLimit[K] {
	keys, _ := lru.New[K, *rate.Limiter](tracked)
	sources, _ := lru.New[netip.Prefix, *rate.Limiter](tracked)
	return &failureLimit[K]{keyBurst: keyBurst, keyInterval: keyInterval, sourceBurst: sourceBurst, sourceInterval: sourceInterval,
		keys: keys, sources: sources}
}

// check returns how long a request from src about key must wait before it
// may be evaluated (0: at once) and whether its source is what holds it.
// key is called only for a source that has failed recently.
func (f *failureLimit[K]) check(now time.Time, src netip.Prefix, key func() K) (w time.Duration, bySource bool) {
	lim, tracked := f.sources.Peek(src)
	if !tracked {
		return 0, false
	}
	tokens := lim.TokensAt(now)
	if tokens < 1 {
		return wait(lim, tokens), true
	}
	if tokens < float64(f.sourceBurst) {
		if lim, ok := f.keys.Peek(key()); ok {
			if tokens := lim.TokensAt(now); tokens < 1 {
				return wait(lim, tokens), false
			}
		}
	}
	return 0, false
}

// failSource and failKey count one failure of src and of key.
func (f *failureLimit[K]) failSource(now time.Time, src netip.Prefix) {
	fail(f.sources, src, f.sourceBurst, f.sourceInterval, now)
}

func (f *failureLimit[K]) failKey(now time.Time, key K) {
	fail(f.keys, key, f.keyBurst, f.keyInterval, now)
}

// tracked returns how many keys and sources are remembered.
func (f *failureLimit[K]) tracked() (keys, sources int) {
	return f.keys.Len(), f.sources.Len()
}

// wait is how long until lim, holding tokens, has one.
func wait(lim *rate.Limiter, tokens float64) time.Duration {
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
}

func fail[K comparable](c *lru.Cache[K, *rate.Limiter], key K, burst int, interval time.Duration, now time.Time) {
	lim, ok := c.Get(key)
	if !ok {
		fresh := rate.NewLimiter(rate.Every(interval), burst)
		if prev, found, _ := c.PeekOrAdd(key, fresh); found {
			lim = prev
		} else {
			lim = fresh
		}
	}
	lim.AllowN(now, 1)
}

// sourceKey is the context key of the request's source (WithSource).
type sourceKey struct{}

// WithSource returns ctx carrying src, the network source of the request
// ctx serves, as the limiters count it: an IPv4 address (a /32) or an
// IPv6 /64. The HTTP layer computes it, from X-Forwarded-For behind a
// trusted proxy; the zero Prefix is one "unknown" source.
func WithSource(ctx context.Context, src netip.Prefix) context.Context {
	return context.WithValue(ctx, sourceKey{}, src)
}

// SourceOf returns the source ctx carries (WithSource), or the zero
// Prefix, one "unknown" source, when it carries none.
func SourceOf(ctx context.Context) netip.Prefix {
	src, _ := ctx.Value(sourceKey{}).(netip.Prefix)
	return src
}

// Limited returns how many requests were refused, by reason.
func (l *AuthLimiter) Limited() (bySource, byClient uint64) {
	return l.limitedSource.Load(), l.limitedClient.Load()
}

// Tracked returns how many client ids and sources are remembered.
func (l *AuthLimiter) Tracked() (clients, sources int) {
	return l.limits.tracked()
}

func limitKey(id string) string {
	if len(id) > maxLimitKey {
		return id[:maxLimitKey]
	}
	return id
}

// presentsCredential reports whether r carries a client credential:
// HTTP Basic, client_secret or client_assertion (RFC 6749 §2.3, RFC 7523
// §2.2). A bare client_id authenticates nothing.
func presentsCredential(r *http.Request, form url.Values) bool {
	if _, _, ok := r.BasicAuth(); ok {
		return true
	}
	return form.Has("client_secret") || form.Has("client_assertion")
}

// presentedClientID returns the client id a request claims, unverified:
// the Basic user name, else the client_id parameter, else the "sub" of a
// client assertion (RFC 7523 §3).
func presentedClientID(r *http.Request, form url.Values) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	if id := form.Get("client_id"); id != "" {
		return id
	}
	if a := form.Get("client_assertion"); a != "" && len(a) <= assertion.MaxAssertionBytes {
		parts := strings.Split(a, ".")
		if len(parts) == 3 {
			if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
				var c struct {
					Sub string `json:"sub"`
				}
				if json.Unmarshal(payload, &c) == nil {
					return c.Sub
				}
			}
		}
	}
	return ""
}

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
// before the password is hashed, and a limited login gets 429
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

// Check returns a 429 error carrying the wait (see RetryAfter) when a
// login of username at appID from the source ctx carries (SourceOf) may
// not be evaluated now, nil otherwise.
func (l *LoginLimiter) Check(ctx context.Context, appID, username string) error {
	w, bySource := l.limits.check(l.now(), SourceOf(ctx), func() string { return loginKey(appID, username) })
	if w <= 0 {
		return nil
	}
	if bySource {
		l.limitedSource.Add(1)
	} else {
		l.limitedUser.Add(1)
	}
	return errLoginLimited.WithWrap(retryAfter(w))
}

// Failed counts a wrong password for username at appID from the source
// ctx carries (SourceOf).
func (l *LoginLimiter) Failed(ctx context.Context, appID, username string) {
	now := l.now()
	l.limits.failSource(now, SourceOf(ctx))
	l.limits.failKey(now, loginKey(appID, username))
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
// a username of at most maxUsernameLen characters of up to 4 bytes each;
// anything longer is remembered by its first bytes.
const maxLoginKey = credential.MaxAppIDLen + 1 + 4*users.MaxUsernameLen

func loginKey(appID, username string) string {
	k := appID + "\x00" + username
	if len(k) > maxLoginKey {
		return k[:maxLoginKey]
	}
	return k
}
