package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

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

// reserve starts the evaluation of a request from src about key: it
// takes a failure's token from src's bucket and, when src has failed
// recently, from key's, before the request is evaluated, so that requests
// in flight count as failures until they are known not to be. Without it,
// every request that arrived before the first failure was counted passed
// check: one source sending hundreds of logins at once had each one
// evaluated. When the request may not be evaluated now, reserve holds
// nothing and returns the wait and whether its source is what holds it.
// Otherwise the caller must call release once with the outcome: a success
// gives the tokens back, a failure keeps them (and, for a source that had
// not failed recently, counts one against key too).
func (f *failureLimit[K]) reserve(now time.Time, src netip.Prefix, key func() K) (release func(now time.Time, failed bool), w time.Duration, bySource bool) {
	srcLim := limiter(f.sources, src, f.sourceBurst, f.sourceInterval)
	clean := srcLim.TokensAt(now) >= float64(f.sourceBurst)
	rs := srcLim.ReserveN(now, 1)
	if d := rs.DelayFrom(now); d > 0 {
		rs.CancelAt(now)
		return nil, d, true
	}
	var rk *rate.Reservation
	var k K
	if !clean {
		k = key()
		rk = limiter(f.keys, k, f.keyBurst, f.keyInterval).ReserveN(now, 1)
		if d := rk.DelayFrom(now); d > 0 {
			rk.CancelAt(now)
			rs.CancelAt(now)
			return nil, d, false
		}
	}
	return func(now time.Time, failed bool) {
		switch {
		case !failed:
			rs.CancelAt(now)
			if rk != nil {
				rk.CancelAt(now)
			}
		case rk == nil:
			f.failKey(now, key())
		}
	}, 0, false
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
	limiter(c, key, burst, interval).AllowN(now, 1)
}

// limiter returns key's bucket in c, a full one added if it has none.
func limiter[K comparable](c *lru.Cache[K, *rate.Limiter], key K, burst int, interval time.Duration) *rate.Limiter {
	if lim, ok := c.Get(key); ok {
		return lim
	}
	fresh := rate.NewLimiter(rate.Every(interval), burst)
	if prev, found, _ := c.PeekOrAdd(key, fresh); found {
		return prev
	}
	return fresh
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
