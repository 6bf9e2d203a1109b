package audit

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// Failures are counted in memory, in bounded space, and written as one
// event per distinct failure with its count.
func TestAuditorCountsFailures(t *testing.T) {
	store, _ := storagetest.Embedded(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewAuditor(store, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.fails.limit = 3
	ctx := context.Background()
	attacker := authserver.Actor{ID: "anonymous", Source: "192.0.2.1:5555"}
	for port := range 5 { // one client, many ports: one key
		attacker.Source = "192.0.2.1:" + strconv.Itoa(5000+port)
		a.Fail(attacker, "admin.authenticate", "", "", "unauthenticated")
	}
	for i := range 100 { // many distinct failures: bounded
		a.Fail(authserver.Actor{ID: "acck_" + strconv.Itoa(i), Source: "198.51.100.7:1"}, "secret.discard", "sec_x", "app_x", "last_active_secret")
	}
	if got := a.PendingFailures(); got != 105 {
		t.Fatalf("pending %d, want 105", got)
	}
	if len(a.fails.m) > 4 {
		t.Fatalf("%d distinct failures kept, want at most the limit 3 plus one overflow", len(a.fails.m))
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a.PendingFailures() != 0 {
		t.Fatal("failures still pending after a flush")
	}
	events, err := store.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int{}
	for _, e := range events {
		n, _ := strconv.Atoi(e.Detail["count"])
		total[e.Action] += n
		if e.Action == "admin.authenticate" && (e.Source != "192.0.2.1" || n != 5) {
			t.Errorf("authentication failures: %+v, want 5 from 192.0.2.1", e)
		}
	}
	if len(events) != 4 || total["admin.authenticate"] != 5 || total["secret.discard"] != 100 {
		t.Fatalf("%d events, totals %v; want 4 events counting 5 and 100", len(events), total)
	}
}
