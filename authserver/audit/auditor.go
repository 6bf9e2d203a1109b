package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
)

// Store is what the audit log needs of the database.
type Store interface {
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// Auditor records credential lifecycle events. An event never holds key
// material; failing to record one is logged, not fatal to the operation
// already done. Successes are stored one event each; failures (refused
// transitions, forbidden roles, failed authentications) are counted in
// memory and stored as one event per distinct failure and FailureWindow,
// so that an attacker cannot fill the log or make it a write load.
type Auditor struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
	fails failureCounts
	seq   atomic.Uint64 // orders event ids within a millisecond
}

// NewAuditor returns an auditor.
func NewAuditor(store Store, now func() time.Time, log *slog.Logger) *Auditor {
	return &Auditor{store: store, now: now, log: log, fails: failureCounts{m: map[failureKey]*failureCount{}}}
}

// Record stores one event. outcome is "success" or an error code.
func (a *Auditor) Record(ctx context.Context, actor authserver.Actor, action, target, appID, outcome string, detail map[string]string) {
	t := a.now().UTC()
	e := storage.AuditEvent{
		ID:    a.eventID(t),
		Time:  t,
		Actor: actor.ID, Action: action, Target: target, AppID: appID,
		Source: actor.Source, Outcome: outcome, Detail: detail,
	}
	if err := a.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("audit event not recorded", "action", action, "target", target, "err", err)
	}
}

// eventID returns a unique id that sorts by t and, within a millisecond,
// by order of recording by this auditor: time, sequence, random suffix
// (events of several instances in one millisecond sort arbitrarily).
func (a *Auditor) eventID(t time.Time) string {
	return fmt.Sprintf("%013d-%012d-%s", t.UnixMilli(), a.seq.Add(1), credential.RandomBase62(8, 11))
}

// List returns events matching f, newest first.
func (a *Auditor) List(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	ev, err := a.store.ListAudit(ctx, f)
	if err != nil {
		return nil, &authserver.Error{Kind: authserver.KindUnavailable, Code: "store_unavailable", Message: "the audit log cannot be read", Err: err}
	}
	return ev, nil
}

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

// EventView is an audit event as the admin API shows it. It never
// holds key material: targets are ids (app_…, sec_…, acck_…).
type EventView struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	AppID  string    `json:"app_id,omitempty"`
	Source string    `json:"source,omitempty"`
	// Outcome is "success" or the machine code of the refusal
	// ("last_active_secret", "forbidden", "unauthenticated", …); refusals
	// are counted per FailureWindow (Detail: count, first_at, last_at).
	Outcome string            `json:"outcome"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// Query selects audit events: each non-empty field must match; After
// is the cursor of the previous page (the id of its last event).
type Query struct {
	AppID  string
	Actor  string
	Action string
	After  string
	// Limit is 1 to 500, default 100.
	Limit int
}

// ListEvents returns the events matching q, newest first, and the cursor
// of the next page ("" at the end). Errors: KindUnavailable.
func (a *Auditor) ListEvents(ctx context.Context, q Query) (events []EventView, next string, err error) {
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	rows, err := a.store.ListAudit(ctx, storage.AuditFilter{AppID: q.AppID, Actor: q.Actor, Action: q.Action, Before: q.After, Limit: q.Limit + 1})
	if err != nil {
		return nil, "", &authserver.Error{Kind: authserver.KindUnavailable, Code: "store_unavailable", Message: "the audit log cannot be read", Err: err}
	}
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		next = rows[len(rows)-1].ID
	}
	events = make([]EventView, 0, len(rows))
	for _, e := range rows {
		events = append(events, EventView{
			ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, AppID: e.AppID,
			Source: e.Source, Outcome: e.Outcome, Detail: e.Detail,
		})
	}
	return events, next, nil
}
