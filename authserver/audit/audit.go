package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
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
