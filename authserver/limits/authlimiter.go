package limits

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/credential"
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
// credential.MaxAppIDLen, anything longer is remembered by its first bytes.
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
		// Checked, then counted after the answer: concurrent guesses can
		// pass the check together, unlike the login limiter's
		// reservations (LoginLimiter.Begin). Deliberate: reserving would
		// put per-request state on the token endpoint's hot path, and a
		// client credential is a 256-bit secret or a signature checked at
		// the cost of one digest or verification, so a burst of extra
		// guesses neither finds it nor costs what an argon2id hash does.
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
