package clients

import (
	"context"
	"crypto"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/verifier"
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
// after the poll that set it.
const ChangeOverlap = 2 * time.Second

// changeBatch is the most change records read per query.
const changeBatch = 1000

// changeRetention is how long change records are kept. A cache that has
// not refreshed for longer than changeRetention minus changeOverlap may
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

// CachedApp is an immutable snapshot of an app with its secrets' digests
// decoded for comparison and its inline JWKS parsed.
type CachedApp struct {
	app     storage.App
	secrets []cachedSecret
	// jwks are the app's inline public keys (verifier.ParseJWKS) and
	// thumbprints their RFC 7638 SHA-256 thumbprints, index for index.
	jwks        []jose.JSONWebKey
	thumbprints []string
	// promoted is when a hit last moved the entry to the LRU front (unix
	// nanos on the process clock).
	promoted atomic.Int64
}

type cachedSecret struct {
	id        string
	digest    [32]byte
	active    bool
	expiresAt time.Time
}

// usable reports whether the secret authenticates at now: active and not
// past its grace period.
func (s *cachedSecret) usable(now time.Time) bool {
	return s.active && (s.expiresAt.IsZero() || now.Before(s.expiresAt))
}

// App returns the cached app. Callers must not modify it.
func (e *CachedApp) App() *storage.App { return &e.app }

// MatchSecret returns the id of the app's secret whose digest is digest
// and that authenticates at now, or "". It compares digest with every
// secret in constant time and walks them all, so that the answer time
// says little about why it failed.
func (e *CachedApp) MatchSecret(digest [32]byte, now time.Time) string {
	matched := ""
	for i := range e.secrets {
		s := &e.secrets[i]
		if subtle.ConstantTimeCompare(s.digest[:], digest[:]) == 1 && s.usable(now) {
			matched = s.id
		}
	}
	return matched
}

// SecretUsable reports whether the app's secret App().Secrets[i]
// authenticates at now: active and not past its grace period.
func (e *CachedApp) SecretUsable(i int, now time.Time) bool {
	return e.secrets[i].usable(now)
}

// InlineKeys returns the public keys of the app's inline JWKS
// (verifier.ParseJWKS; none while it publishes them at a jwks_uri) and,
// index for index, their RFC 7638 SHA-256 thumbprints. Callers must not
// modify them.
func (e *CachedApp) InlineKeys() (keys []jose.JSONWebKey, thumbprints []string) {
	return e.jwks, e.thumbprints
}

func newCachedApp(a storage.App) *CachedApp {
	c := &CachedApp{app: a, secrets: make([]cachedSecret, 0, len(a.Secrets))}
	for _, s := range a.Secrets {
		cs := cachedSecret{id: s.ID, active: s.Status == storage.SecretActive, expiresAt: s.ExpiresAt}
		copy(cs.digest[:], s.Digest)
		c.secrets = append(c.secrets, cs)
	}
	if len(a.JWKS) > 0 {
		// Stored sets were checked by normalizeJWKS; one that no longer
		// parses verifies nothing.
		keys, _ := verifier.ParseJWKS(a.JWKS)
		for _, k := range keys {
			tp, err := Thumbprint(k)
			if err != nil {
				continue
			}
			c.jwks = append(c.jwks, k)
			c.thumbprints = append(c.thumbprints, tp)
		}
	}
	return c
}

// Thumbprint is the RFC 7638 JWK thumbprint of k under SHA-256,
// base64url without padding: what names an app's assertion key in the
// tokens it obtained (ClaimAssertionKey).
func Thumbprint(k jose.JSONWebKey) (string, error) {
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint of key %q: %w", k.KeyID, err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
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

// Get returns the app with id. It returns storage.ErrNotFound for an unknown
// id and ErrStoreUnavailable when the database cannot answer or the cache is
// staler than MaxStaleness.
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

// Client is the fosite client of one authenticated token request: the app
// as cached, and how it authenticated.
type Client struct {
	app *storage.App
	// SecretID is the secret that authenticated the request, or "" when
	// the client authenticated with a private key.
	SecretID string
	// AssertionKey is the RFC 7638 thumbprint of the registered key that
	// signed the client assertion (private_key_jwt), else "".
	AssertionKey string
	// AuthMethod is the token_endpoint_auth_method used (RFC 7591 §2).
	AuthMethod string
	// RecordUse, if set, records the use of the secret that
	// authenticated the request (UsageRecorder.Touch); MarkUsed runs it
	// once a token is issued, so that a request refused after
	// authentication changes nothing.
	RecordUse func()
}

// NewClient returns the client of app with no credential recorded: the
// client a request names, authenticated or not; the authenticator fills
// in how it authenticated. app must not be modified.
func NewClient(app *storage.App) *Client { return &Client{app: app} }

// MarkUsed records that the client's credential obtained a token.
func (c *Client) MarkUsed() {
	if c.RecordUse != nil {
		c.RecordUse()
	}
}

var _ fosite.Client = (*Client)(nil)

// App returns the authenticated app. Callers must not modify it.
func (c *Client) App() *storage.App { return c.app }

// GetID implements fosite.Client: the App ID.
func (c *Client) GetID() string { return c.app.ID }

// GetHashedSecret implements fosite.Client. Client authentication is ours
// (ClientAuthenticator), so fosite never compares secrets.
func (c *Client) GetHashedSecret() []byte { return nil }

// GetRedirectURIs implements fosite.Client: none, there are no redirect flows.
func (c *Client) GetRedirectURIs() []string { return nil }

// GetGrantTypes implements fosite.Client.
func (c *Client) GetGrantTypes() fosite.Arguments {
	return fosite.Arguments{"client_credentials", GrantTypeJWTBearer}
}

// GetResponseTypes implements fosite.Client: none.
func (c *Client) GetResponseTypes() fosite.Arguments { return nil }

// GetScopes implements fosite.Client: the scopes the app may request.
func (c *Client) GetScopes() fosite.Arguments { return c.app.Scopes }

// IsPublic implements fosite.Client: every app is confidential.
func (c *Client) IsPublic() bool { return false }

// GetAudience implements fosite.Client: the audiences the app may request.
func (c *Client) GetAudience() fosite.Arguments { return c.app.Audiences }

// GrantTypeJWTBearer is the JWT bearer grant of RFC 7523 §2.1.
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// UnavailableError is the answer when the store is needed and unreachable.
func UnavailableError() error {
	return fosite.ErrTemporarilyUnavailable.WithHint("The authorization server cannot verify the client right now; retry later.")
}

// ValidScope: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScope(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
