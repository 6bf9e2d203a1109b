package clients

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
)

// Store is what the client cache needs of the database.
type Store interface {
	GetApp(ctx context.Context, id string) (storage.App, error)
	AppChangesSince(ctx context.Context, since time.Time, limit int) ([]storage.AppChange, error)
	SweepAppChanges(ctx context.Context, before time.Time) (int64, error)
	ServerTime(ctx context.Context) (time.Time, error)
}

// CacheConfig bounds the client cache.
type CacheConfig struct {
	// Size is the most apps kept in memory (least recently used evicted);
	// default 100,000.
	Size int
	// RefreshInterval is how often the cache asks the database which apps
	// changed; it bounds how long a change made on another instance takes to
	// apply here (default 2s).
	RefreshInterval time.Duration
	// MaxStaleness is how long after the last successful refresh cached apps
	// are still served when the database is unreachable (default 60s);
	// past it, ErrStoreUnavailable.
	MaxStaleness time.Duration
}

// ChangeOverlap re-reads changes this far behind the watermark: a write
// stamped by the server just before the watermark may become visible only
// after the poll that set it. The token denylist polls its own log with
// the same overlap.
const ChangeOverlap = 2 * time.Second

// changeBatch is the most change records read per query.
const changeBatch = 1000

// changeRetention is how long change records are kept. A cache that has
// not refreshed for longer than changeRetention minus ChangeOverlap may
// have missed swept records, and drops everything it holds.
const changeRetention = 10 * time.Minute

// changeSweepInterval is how often each instance deletes change records
// older than changeRetention (the deletes are idempotent).
const changeSweepInterval = time.Minute

// promoteEvery limits how often a hit moves its entry to the front of the
// LRU list, which takes the cache's write lock: between promotions hits
// take only the read lock, and the order stays right to within this.
const promoteEvery = int64(time.Second)

// Cache serves apps from memory so that client authentication touches
// the database only on a miss. Every app write is announced in a change log
// (storage.AppChange, stamped by the database server's clock); each
// instance polls the log for records since its last poll and re-reads the
// changed apps it holds, so the cost of keeping any number of cached apps
// fresh is the number of recent changes, not of apps. It does no full load
// at start.
type Cache struct {
	store Store
	cfg   CacheConfig
	now   func() time.Time
	log   *slog.Logger

	apps    *lru.Cache[string, *CachedApp]
	missing *lru.Cache[string, struct{}]
	loads   singleflight.Group
	// mu orders cache writes against each other (lookups take no lock of
	// ours), so that an older version never replaces a newer one.
	mu sync.Mutex
	// generation counts applied refreshes: a load that spans one re-reads.
	generation atomic.Int64
	// lastRefresh is when the last refresh succeeded, on the process's
	// own clock rather than the injected decision clock: staleness is an
	// operational bound in elapsed time, and tests that move the decision
	// clock by hours must not make the cache look stale.
	lastRefresh atomic.Int64 // unix nanos
	watermark   time.Time    // owned by Refresh
}

// NewCache returns a cache; call Init, then Run in a goroutine.
func NewCache(store Store, cfg CacheConfig, now func() time.Time, log *slog.Logger) *Cache {
	if cfg.Size <= 0 {
		cfg.Size = 100_000
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 2 * time.Second
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = 60 * time.Second
	}
	apps, _ := lru.New[string, *CachedApp](cfg.Size)
	// Unknown ids get a smaller cache of their own so that an attacker
	// sending random ids cannot evict real apps.
	missing, _ := lru.New[string, struct{}](max(cfg.Size/10, 1024))
	return &Cache{store: store, cfg: cfg, now: now, log: log, apps: apps, missing: missing}
}

// Init sets the change watermark to the database's clock.
func (c *Cache) Init(ctx context.Context) error {
	t, err := c.store.ServerTime(ctx)
	if err != nil {
		return fmt.Errorf("init client cache: %w", err)
	}
	c.watermark = t
	c.lastRefresh.Store(time.Now().UnixNano())
	return nil
}

// Run refreshes every RefreshInterval and sweeps old change records every
// minute until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		periodic.Every(ctx, changeSweepInterval, c.log, "app change log sweep", c.sweepChanges)
	}()
	periodic.Every(ctx, c.cfg.RefreshInterval, c.log, "client cache refresh", c.Refresh)
	<-done
}

// sweepChanges deletes change records older than changeRetention by the
// database server's clock.
func (c *Cache) sweepChanges(ctx context.Context) error {
	now, err := c.store.ServerTime(ctx)
	if err != nil {
		return err
	}
	_, err = c.store.SweepAppChanges(ctx, now.Add(-changeRetention))
	return err
}

// Refresh reads the change records since the last refresh (less
// ChangeOverlap), re-reads each changed app this instance holds, and
// forgets unknown ids that now exist. If the last successful refresh is so
// old that records may have been swept since, it drops every entry
// instead. Only Run and tests call it, never concurrently.
func (c *Cache) Refresh(ctx context.Context) error {
	if time.Since(time.Unix(0, c.lastRefresh.Load())) > changeRetention-ChangeOverlap {
		c.apps.Purge()
		c.missing.Purge()
		c.log.Warn("client cache dropped: refreshes failed for longer than the change log is kept")
	}
	watermark := c.watermark
	since := watermark.Add(-ChangeOverlap)
	seen := map[string]bool{}
	for {
		changes, err := c.store.AppChangesSince(ctx, since, changeBatch)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			if ch.At.After(watermark) {
				watermark = ch.At
			}
			if ch.AppID == "" {
				// An import (storage.ImportApps) of new apps: any id
				// remembered as missing may exist now.
				c.missing.Purge()
				continue
			}
			if seen[ch.AppID] {
				continue
			}
			seen[ch.AppID] = true
			c.missing.Remove(ch.AppID)
			if _, ok := c.apps.Peek(ch.AppID); !ok {
				continue
			}
			a, err := c.store.GetApp(ctx, ch.AppID)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				c.apps.Remove(ch.AppID)
			case err != nil:
				return err
			default:
				c.put(a)
			}
		}
		if len(changes) < changeBatch {
			break
		}
		since = changes[len(changes)-1].At
	}
	c.watermark = watermark
	c.generation.Add(1)
	c.lastRefresh.Store(time.Now().UnixNano())
	return nil
}

// put stores a unless a newer version is cached.
func (c *Cache) put(a storage.App) *CachedApp {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.apps.Peek(a.ID); ok && old.app.Version >= a.Version {
		return old
	}
	e := newCachedApp(a)
	c.apps.Add(a.ID, e)
	return e
}

// Put stores an app this instance has just written, so that the change
// applies here at once rather than at the next refresh.
func (c *Cache) Put(a storage.App) {
	c.missing.Remove(a.ID)
	c.put(a)
}

// Get returns the cached app with id, reading it from the database on a
// miss (one read shared by concurrent callers). It returns
// storage.ErrNotFound for an unknown id (remembered until a change record
// names it) and authserver.ErrStoreUnavailable when the database cannot
// answer or the cache is staler than MaxStaleness.
func (c *Cache) Get(ctx context.Context, id string) (*CachedApp, error) {
	if c.stale() {
		return nil, authserver.ErrStoreUnavailable
	}
	if e, ok := c.apps.Peek(id); ok {
		if now := time.Now().UnixNano(); now-e.promoted.Load() > promoteEvery {
			e.promoted.Store(now)
			c.apps.Get(id)
		}
		return e, nil
	}
	if c.missing.Contains(id) {
		return nil, storage.ErrNotFound
	}
	v, err, _ := c.loads.Do(id, func() (any, error) {
		// The load is shared by every caller waiting on this id: one
		// caller going away must not fail the others.
		ctx := context.WithoutCancel(ctx)
		gen := c.generation.Load()
		a, err := c.store.GetApp(ctx, id)
		if err == nil && c.generation.Load() != gen {
			// A refresh ran during the read and may have skipped this
			// app because it was not cached yet: read again.
			a, err = c.store.GetApp(ctx, id)
		}
		switch {
		case err == nil:
			return c.put(a), nil
		case errors.Is(err, storage.ErrNotFound):
			c.missing.Add(id, struct{}{})
			return nil, storage.ErrNotFound
		default:
			c.log.Warn("client look-up failed", "err", err)
			return nil, authserver.ErrStoreUnavailable
		}
	})
	if err != nil {
		return nil, err
	}
	return v.(*CachedApp), nil
}

func (c *Cache) stale() bool {
	return time.Since(time.Unix(0, c.lastRefresh.Load())) > c.cfg.MaxStaleness
}

// Len returns how many apps are cached.
func (c *Cache) Len() int { return c.apps.Len() }

// UnavailableError is the fosite error (RFC 6749 §5.2
// temporarily_unavailable, 503) to answer when the app is needed and the
// cache cannot give it: Get's ErrStoreUnavailable. Each call returns a
// fresh value.
func UnavailableError() error {
	return fosite.ErrTemporarilyUnavailable.WithHint("The authorization server cannot verify the client right now; retry later.")
}

// CredentialActive reports whether a token minted for app appID (its
// client_id claim) is still backed by its credentials, for introspection
// (RFC 7662 §2.2 "active") and manual expiry (docs/credentials.md,
// "Expiry": deleting a key invalidates every token minted with it). It is false when the app is
// unknown or disabled, when secretID (the secret_id claim) names a secret
// that is discarded or deleted, or when assertionKey (the assertion_key
// claim, an RFC 7638 thumbprint) names a key the app no longer registers.
// A secret whose rotation grace period has ended still backs the tokens it
// minted before: they end at their own exp. Empty secretID and
// assertionKey (a token minted with neither) check the app only.
//
// An assertion key is looked for in the app's inline JWKS. While the app
// publishes its keys at a jwks_uri instead, any recorded key backs its
// tokens: this check answers from memory and never fetches, and a key
// that leaves a published set is routine rotation, not a revocation;
// removing the jwks_uri, or replacing it with an inline set without the
// key, is (docs/architecture.md, "Tokens").
//
// It answers from the client cache: a change made on this instance applies
// at once, one made on another within cache.refresh_interval. Errors:
// authserver.ErrStoreUnavailable when the app is not cached and the
// database cannot answer.
func (c *Cache) CredentialActive(ctx context.Context, appID, secretID, assertionKey string) (bool, error) {
	if appID == "" || len(appID) > credential.MaxAppIDLen || credential.EnvOf(appID) == "" {
		return false, nil
	}
	e, err := c.Get(ctx, appID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case !e.app.Enabled:
		return false, nil
	}
	return e.secretBacks(secretID) && e.keyBacks(assertionKey), nil
}
