package clients

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/authserver/authserver/storage"
)

// UsageStore is what the usage recorder needs of the database.
type UsageStore interface {
	RecordSecretUse(ctx context.Context, uses []storage.SecretUsage) error
}

// UsageRecorder keeps each secret's last-used time in memory and writes
// them in one bulk update per flush interval, so that issuing a token never
// writes to the database. A listing's last_used_at is therefore at most one
// flush interval (plus the client cache's refresh) behind.
type UsageRecorder struct {
	store    UsageStore
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	pending map[string]storage.SecretUsage
}

// NewUsageRecorder returns a recorder that flushes every interval
// (default 30s).
func NewUsageRecorder(store UsageStore, interval time.Duration, log *slog.Logger) *UsageRecorder {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	return &UsageRecorder{store: store, interval: interval, log: log, pending: map[string]storage.SecretUsage{}}
}

// Interval is the flush interval: the accuracy bound of last_used_at.
func (u *UsageRecorder) Interval() time.Duration { return u.interval }

// Touch records that secretID of appID authenticated a client at t.
func (u *UsageRecorder) Touch(appID, secretID string, t time.Time) {
	u.mu.Lock()
	if p, ok := u.pending[secretID]; !ok || t.After(p.LastUsedAt) {
		u.pending[secretID] = storage.SecretUsage{SecretID: secretID, AppID: appID, LastUsedAt: t}
	}
	u.mu.Unlock()
}

// Flush writes what was recorded since the last flush. On failure the
// records are kept for the next flush.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := make([]storage.SecretUsage, 0, len(u.pending))
	for _, p := range u.pending {
		batch = append(batch, p)
	}
	u.pending = map[string]storage.SecretUsage{}
	u.mu.Unlock()
	if err := u.store.RecordSecretUse(ctx, batch); err != nil {
		for _, p := range batch {
			u.Touch(p.AppID, p.SecretID, p.LastUsedAt)
		}
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then flushes once more.
func (u *UsageRecorder) Run(ctx context.Context) {
	t := time.NewTicker(u.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := u.Flush(flushCtx); err != nil {
				u.log.Warn("secret usage not saved at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := u.Flush(ctx); err != nil {
				u.log.Warn("secret usage not saved", "err", err)
			}
		}
	}
}
