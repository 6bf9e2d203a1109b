package periodic

import (
	"context"
	"log/slog"
	"time"
)

// Every calls fn every interval of real time until ctx ends. A failure is
// logged as "<what> failed" and retried at the next tick; the state fn
// maintains stays as it was. Background loops of the caches, the key
// manager and the sweeps share it.
func Every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, fn func(context.Context) error) {
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

// OnClock calls fn each time the clock now has moved at least every
// since the last call, checking once a second, until ctx ends. Periodic
// work keyed to the injected clock runs when that clock says so: a test
// that holds its clock still sees none of it.
func OnClock(ctx context.Context, now func() time.Time, every time.Duration, fn func()) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := now(); n.Sub(last) >= every {
				last = n
				fn()
			}
		}
	}
}
