package tokens

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/storage"
)

// RevocationStore is what the token denylist needs of the database.
type RevocationStore interface {
	Revoke(ctx context.Context, r storage.Revoked) (created bool, err error)
	RevokedAfter(ctx context.Context, c storage.RevokedCursor, now time.Time, limit int) ([]storage.Revoked, error)
	SweepRevoked(ctx context.Context, now time.Time) (int64, error)
}

// RevocationConfig tunes the denylist. Durations are time.Duration.
type RevocationConfig struct {
	// RefreshInterval is how often an instance reads the revocations made
	// through other instances (default 2s): it bounds how long a token
	// revoked elsewhere still introspects as active here.
	RefreshInterval time.Duration
	// SweepInterval is how often entries of expired tokens are dropped
	// from memory and from the database (default 10m).
	SweepInterval time.Duration
	// MaxStaleness is how long after the last successful refresh the
	// denylist is trusted while the database is unreachable (default
	// 60s); past it, IsRevoked returns ErrStoreUnavailable.
	MaxStaleness time.Duration
}

// revokedBatch is the most denylist entries read per query.
const revokedBatch = 1000

// Revocations is the access-token denylist (RFC 7009): revoked jtis, each
// kept until its token's exp. Every instance holds all of them in memory,
// loaded at start and kept fresh by polling the database for entries
// created after a watermark (created_at by the database's clock, like the
// client cache), so that checking a jti never waits on the database. A
// revocation through this instance applies here at once, elsewhere within
// RefreshInterval.
type Revocations struct {
	store RevocationStore
	keys  *signingkeys.KeyManager
	cfg   RevocationConfig
	now   func() time.Time
	log   *slog.Logger

	mu   sync.RWMutex
	jtis map[string]time.Time // jti -> the token's exp

	cursor storage.RevokedCursor // owned by Refresh
	// lastRefresh is when the last refresh succeeded, on the process's
	// own clock (as the client cache's): staleness is an operational
	// bound in elapsed time, not a decision on the injected clock.
	lastRefresh atomic.Int64  // unix nanos
	revoked     atomic.Uint64 // revocations stored by this instance
}

// NewRevocations returns the denylist; call Init, then Run.
func NewRevocations(store RevocationStore, keys *signingkeys.KeyManager, cfg RevocationConfig, now func() time.Time, log *slog.Logger) *Revocations {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 2 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 10 * time.Minute
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = 60 * time.Second
	}
	return &Revocations{store: store, keys: keys, cfg: cfg, now: now, log: log, jtis: map[string]time.Time{}}
}

// Init loads every entry whose token has not expired.
func (r *Revocations) Init(ctx context.Context) error {
	if err := r.load(ctx, storage.RevokedCursor{}); err != nil {
		return fmt.Errorf("load revoked tokens: %w", err)
	}
	return nil
}

// Refresh reads the entries created since the last refresh. It re-reads
// clients.ChangeOverlap behind the watermark: an entry stamped by the server just
// before it may become visible only after the poll that set it. Only Run
// and tests call it, never concurrently.
func (r *Revocations) Refresh(ctx context.Context) error {
	from := storage.RevokedCursor{}
	if !r.cursor.CreatedAt.IsZero() {
		from.CreatedAt = r.cursor.CreatedAt.Add(-clients.ChangeOverlap)
	}
	return r.load(ctx, from)
}

func (r *Revocations) load(ctx context.Context, from storage.RevokedCursor) error {
	c := from
	for {
		batch, err := r.store.RevokedAfter(ctx, c, r.now(), revokedBatch)
		if err != nil {
			return err
		}
		r.mu.Lock()
		for _, e := range batch {
			r.jtis[e.JTI] = e.ExpiresAt
		}
		r.mu.Unlock()
		if len(batch) == 0 {
			break
		}
		last := batch[len(batch)-1]
		c = storage.RevokedCursor{CreatedAt: last.CreatedAt, JTI: last.JTI}
		if c.CreatedAt.After(r.cursor.CreatedAt) {
			r.cursor = c
		}
		if len(batch) < revokedBatch {
			break
		}
	}
	r.lastRefresh.Store(time.Now().UnixNano())
	return nil
}

// Sweep drops the entries of expired tokens from memory and from the
// database. Every instance sweeps; deleting is idempotent.
func (r *Revocations) Sweep(ctx context.Context) error {
	now := r.now()
	r.mu.Lock()
	for jti, exp := range r.jtis {
		if !now.Before(exp) {
			delete(r.jtis, jti)
		}
	}
	r.mu.Unlock()
	if _, err := r.store.SweepRevoked(ctx, now); err != nil {
		return err
	}
	return nil
}

// Run refreshes every RefreshInterval and sweeps every SweepInterval until
// ctx ends. Failures keep the last good state and are logged.
func (r *Revocations) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		periodic.Every(ctx, r.cfg.SweepInterval, r.log, "revoked token sweep", r.Sweep)
	}()
	periodic.Every(ctx, r.cfg.RefreshInterval, r.log, "revoked token refresh", r.Refresh)
	<-done
}

// IsRevoked reports whether the token with jti was revoked. It reads
// memory only. It returns ErrStoreUnavailable when the denylist has not
// been refreshed for MaxStaleness: revocations made elsewhere since then
// are unknown.
func (r *Revocations) IsRevoked(jti string) (bool, error) {
	if time.Since(time.Unix(0, r.lastRefresh.Load())) > r.cfg.MaxStaleness {
		return false, authserver.ErrStoreUnavailable
	}
	r.mu.RLock()
	_, ok := r.jtis[jti]
	r.mu.RUnlock()
	return ok, nil
}

// Revoke revokes the access token token on behalf of client (RFC 7009
// §2.1). Per §2.2 it succeeds without doing anything for a token that is
// not one of ours, cannot be verified (a discarded or deleted signing
// key), has expired or is revoked already. Errors: unauthorized_client
// when the token was issued to another client; temporarily_unavailable
// (503) when the database cannot store the entry, in which case nothing
// was written.
func (r *Revocations) Revoke(ctx context.Context, client fosite.Client, token string) error {
	c, err := parseAccessToken(r.keys, token)
	if err != nil {
		return nil
	}
	exp, ok := unixTime(c.ExpiresAt)
	if !ok || c.JTI == "" || !r.now().Before(exp) {
		return nil
	}
	if c.ClientID != client.GetID() {
		return fosite.ErrUnauthorizedClient.WithHint("The token was not issued to the client making the revocation request.")
	}
	r.mu.RLock()
	_, known := r.jtis[c.JTI]
	r.mu.RUnlock()
	if known {
		return nil
	}
	if _, err := r.store.Revoke(ctx, storage.Revoked{JTI: c.JTI, ClientID: c.ClientID, ExpiresAt: exp}); err != nil {
		r.log.Warn("token not revoked", "client_id", c.ClientID, "err", err)
		return fosite.ErrTemporarilyUnavailable.WithHint("The revocation cannot be stored right now; retry later.")
	}
	r.mu.Lock()
	r.jtis[c.JTI] = exp
	r.mu.Unlock()
	r.revoked.Add(1)
	return nil
}

// Len returns how many revoked tokens are held in memory.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.jtis)
}

// RevokedHere returns how many revocations this instance has stored.
func (r *Revocations) RevokedHere() uint64 { return r.revoked.Load() }
