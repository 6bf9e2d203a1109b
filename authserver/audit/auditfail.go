package audit

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
)

// FailureWindow is how often counted failures are written to the audit
// log, on the injected clock: each distinct failure (actor, source,
// action, target, outcome) seen in a window becomes one event with its
// count.
const FailureWindow = time.Minute

// maxFailureKeys bounds the distinct failures kept per window; beyond it
// failures are counted under their action and outcome only.
const maxFailureKeys = 10_000

type failureKey struct {
	actor, source, action, target, appID, outcome string
}

type failureCount struct {
	n           int64
	first, last time.Time
}

type failureCounts struct {
	mu    sync.Mutex
	m     map[failureKey]*failureCount
	limit int // distinct keys kept; 0 means maxFailureKeys
}

// Fail counts one refused operation or failed authentication. It never
// writes to the database; Flush does, once per FailureWindow. source is
// reduced to its host, so that one client's many ports count as one.
func (a *Auditor) Fail(actor authserver.Actor, action, target, appID, outcome string) {
	k := failureKey{actor: actor.ID, source: hostOf(actor.Source), action: action, target: target, appID: appID, outcome: outcome}
	now := a.now().UTC()
	a.fails.mu.Lock()
	defer a.fails.mu.Unlock()
	limit := a.fails.limit
	if limit <= 0 {
		limit = maxFailureKeys
	}
	c, ok := a.fails.m[k]
	if !ok && len(a.fails.m) >= limit {
		k = failureKey{actor: "*", source: "*", action: action, target: "*", outcome: outcome}
		c, ok = a.fails.m[k]
	}
	if !ok {
		c = &failureCount{first: now}
		a.fails.m[k] = c
	}
	c.n++
	c.last = now
}

// PendingFailures returns how many failures are counted and not yet
// written.
func (a *Auditor) PendingFailures() int64 {
	a.fails.mu.Lock()
	defer a.fails.mu.Unlock()
	var n int64
	for _, c := range a.fails.m {
		n += c.n
	}
	return n
}

// Flush writes the counted failures as audit events (detail: count,
// first_at, last_at) and starts a new window. Events that cannot be
// written are counted again in the next window.
func (a *Auditor) Flush(ctx context.Context) error {
	a.fails.mu.Lock()
	batch := a.fails.m
	a.fails.m = map[failureKey]*failureCount{}
	a.fails.mu.Unlock()
	var firstErr error
	for k, c := range batch {
		e := storage.AuditEvent{
			ID: a.eventID(c.last), Time: c.last, Actor: k.actor, Action: k.action, Target: k.target,
			AppID: k.appID, Source: k.source, Outcome: k.outcome,
			Detail: map[string]string{
				"count":    strconv.FormatInt(c.n, 10),
				"first_at": c.first.Format(time.RFC3339Nano),
				"last_at":  c.last.Format(time.RFC3339Nano),
			},
		}
		if err := a.store.AppendAudit(ctx, e); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			a.fails.mu.Lock()
			if old, ok := a.fails.m[k]; ok {
				old.n += c.n
				old.first = c.first
			} else {
				a.fails.m[k] = c
			}
			a.fails.mu.Unlock()
		}
	}
	return firstErr
}

// Run flushes counted failures every FailureWindow of the injected clock
// until ctx ends, then once more.
func (a *Auditor) Run(ctx context.Context) {
	periodic.OnClock(ctx, a.now, FailureWindow, func() {
		if err := a.Flush(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("counted audit failures not written", "err", err)
		}
	})
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.Flush(flushCtx); err != nil {
		a.log.Warn("counted audit failures not written at shutdown", "err", err)
	}
}

// hostOf returns the host of a host:port address, or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
