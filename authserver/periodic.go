package authserver

import (
	"context"
	"log/slog"
	"time"
)

// every calls fn every interval of real time until ctx ends. A failure is
// logged as "<what> failed" and retried at the next tick; the state fn
// maintains stays as it was. Background loops of the caches, the key
// manager and the sweeps share it.
func every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				log.Warn(what+" failed", "err", err)
			}
		}
	}
}
