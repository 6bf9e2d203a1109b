package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
)

// testDPoPProof: of concurrent claims of one DPoP proof exactly one wins
// (the rest are ErrDuplicate), a live record is a replay, an expired one
// is replaced, and the sweep removes only expired records.
func testDPoPProof(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := storage.DPoPProof{ID: "k2vKq1bGm3yqkXn0Yk1Zp5r8dQe3sKx0b7wJ2hC4t9A", Exp: now.Add(time.Minute)}
	claimOnce(t, func() error { return s.ClaimDPoPProof(ctx, rec, now) })
	// Still live a moment before its exp: a replay.
	if err := s.ClaimDPoPProof(ctx, rec, rec.Exp.Add(-time.Millisecond)); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("claim of a live record: got %v, want ErrDuplicate", err)
	}
	// From its exp on, the id may be claimed again (the old record is
	// replaced).
	again := rec
	again.Exp = rec.Exp.Add(time.Minute)
	if err := s.ClaimDPoPProof(ctx, again, rec.Exp); err != nil {
		t.Fatalf("claim after expiry: %v", err)
	}
	if err := s.ClaimDPoPProof(ctx, again, rec.Exp); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("the replaced record is not live: got %v, want ErrDuplicate", err)
	}
	for i := range 3 {
		old := storage.DPoPProof{ID: fmt.Sprintf("old%d", i), Exp: now.Add(-time.Second)}
		if err := s.ClaimDPoPProof(ctx, old, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	swept, err := s.SweepDPoPProofs(ctx, now)
	if err != nil || swept != 3 {
		t.Fatalf("sweep removed %d (%v), want 3", swept, err)
	}
	if err := s.ClaimDPoPProof(ctx, again, now); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("the sweep removed a live record: claim got %v, want ErrDuplicate", err)
	}
}

// claimOnce makes eight concurrent claims of one record and fails t
// unless exactly one wins and the others get storage.ErrDuplicate.
func claimOnce(t *testing.T, claim func() error) {
	t.Helper()
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, dups := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := claim()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, storage.ErrDuplicate):
				dups++
			default:
				t.Errorf("claim: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || dups != n-1 {
		t.Fatalf("%d claims won and %d were duplicates, want 1 and %d", wins, dups, n-1)
	}
}
