package audit

import (
	"context"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/storage"
)

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
