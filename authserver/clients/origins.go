package clients

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/authserver/authserver/authserver/credential"
)

// OriginStore is what CORS preflights need of the database.
type OriginStore interface {
	AppAllowsAnyOrigin(ctx context.Context, origin string) (bool, error)
}

// Origins decides which browser origins may read responses
// (docs/credentials.md, "Browsers": CORS only for appUser credentials, only
// for the app's own origins). Answers
// about one app come from the client cache; whether any app allows an
// origin, which is all a preflight can be asked since it carries no
// credential, is read from the database and cached for the cache refresh
// interval.
type Origins struct {
	clients *Cache
	store   OriginStore
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
	// anyApp caches AnyAppAllows answers (the LRU is safe for concurrent
	// use).
	anyApp *lru.Cache[string, originAnswer]
}

type originAnswer struct {
	allowed bool
	at      time.Time
}

// NewOrigins returns the origin policy; ttl bounds how long an answer to
// "does any app allow this origin" is reused.
func NewOrigins(clients *Cache, store OriginStore, ttl time.Duration, now func() time.Time, log *slog.Logger) *Origins {
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	anyApp, _ := lru.New[string, originAnswer](10_000)
	return &Origins{clients: clients, store: store, ttl: ttl, now: now, log: log, anyApp: anyApp}
}

// maxOriginLen bounds an Origin header worth looking up.
const maxOriginLen = 256

// wellFormedOrigin reports whether o is scheme://host[:port] (RFC 6454),
// the only shape an app may register.
func wellFormedOrigin(o string) bool {
	if o == "" || len(o) > maxOriginLen {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && !u.ForceQuery
}

// AppAllows reports whether the enabled app appID lists origin among its
// browser origins (exact match). Unknown apps and store failures allow
// nothing.
func (o *Origins) AppAllows(ctx context.Context, appID, origin string) bool {
	if appID == "" || len(appID) > credential.MaxAppIDLen || credential.EnvOf(appID) == "" || !wellFormedOrigin(origin) {
		return false
	}
	e, err := o.clients.Get(ctx, appID)
	return err == nil && e.app.Enabled && slices.Contains(e.app.Origins, origin)
}

// AnyAppAllows reports whether some enabled app lists origin. A store
// failure allows nothing (the preflight fails; the browser retries later).
func (o *Origins) AnyAppAllows(ctx context.Context, origin string) bool {
	if !wellFormedOrigin(origin) {
		return false
	}
	now := o.now()
	a, ok := o.anyApp.Get(origin)
	if ok && now.Sub(a.at) < o.ttl && !now.Before(a.at) {
		return a.allowed
	}
	allowed, err := o.store.AppAllowsAnyOrigin(ctx, origin)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			o.log.Warn("origin look-up failed", "err", err)
		}
		return false
	}
	o.anyApp.Add(origin, originAnswer{allowed: allowed, at: now})
	return allowed
}
