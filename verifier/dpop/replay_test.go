package dpop_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver/authserver/verifier/dpop"
)

func TestMemoryReplayCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock(testNow)
	c := dpop.NewMemoryReplayCache(3, clk.Now)
	seen := func(key string, expires time.Time) bool {
		t.Helper()
		s, err := c.Seen(ctx, key, expires)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if seen("a", testNow.Add(time.Minute)) || !seen("a", testNow.Add(time.Minute)) {
		t.Fatal("first Seen must be false, the second true")
	}
	// Expiry is inclusive: at the expiry instant the record holds.
	clk.Add(time.Minute)
	if !seen("a", testNow.Add(time.Hour)) {
		t.Error("record dropped at its expiry instant")
	}
	clk.Add(time.Nanosecond)
	if seen("a", clk.Now().Add(time.Minute)) {
		t.Error("record kept past its expiry")
	}
	// Already expired: not remembered.
	for range 2 {
		if seen("past", clk.Now().Add(-time.Second)) {
			t.Error("an expired record was remembered")
		}
	}
	if c.Len() != 1 || c.Evicted() != 0 {
		t.Fatalf("Len %d Evicted %d, want 1 and 0", c.Len(), c.Evicted())
	}
	now := clk.Now()
	// Full: the record that expires soonest makes room.
	seen("b", now.Add(30*time.Second))
	seen("c", now.Add(10*time.Second))
	seen("d", now.Add(20*time.Second)) // evicts c
	if c.Len() != 3 || c.Evicted() != 1 {
		t.Fatalf("Len %d Evicted %d, want 3 and 1", c.Len(), c.Evicted())
	}
	if !seen("b", now) || !seen("d", now) || !seen("a", now) {
		t.Error("a record other than the soonest-expiring was evicted")
	}
	if seen("c", now.Add(10*time.Second)) {
		t.Error("the evicted record is still there")
	}
}

// TestMemoryReplayCacheConcurrent: of concurrent Seen calls with one key,
// exactly one is first.
func TestMemoryReplayCacheConcurrent(t *testing.T) {
	t.Parallel()
	clk := newClock(testNow)
	c := dpop.NewMemoryReplayCache(0, clk.Now)
	const keys, workers = 50, 8
	var first [keys]atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range keys {
				s, err := c.Seen(context.Background(), fmt.Sprint("k", k), testNow.Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if !s {
					first[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range keys {
		if n := first[k].Load(); n != 1 {
			t.Errorf("key %d: %d calls saw it first, want 1", k, n)
		}
	}
}
