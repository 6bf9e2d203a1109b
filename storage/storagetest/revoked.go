package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
)

// testRevokeIdempotent: revoking one jti from many goroutines at once
// leaves exactly one entry, created by exactly one of them.
func testRevokeIdempotent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	const n = 8
	var wg sync.WaitGroup
	created := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.Revoke(ctx, storage.Revoked{JTI: "jti-1", ClientID: "app_test_a", ExpiresAt: exp})
			if err != nil {
				t.Errorf("revoke: %v", err)
			}
			created <- ok
		}()
	}
	wg.Wait()
	close(created)
	count := 0
	for ok := range created {
		if ok {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d calls report creating the entry, want 1", count)
	}
	got, err := s.RevokedAfter(ctx, storage.RevokedCursor{}, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].JTI != "jti-1" || got[0].ClientID != "app_test_a" || !got[0].ExpiresAt.Equal(exp) || got[0].CreatedAt.IsZero() {
		t.Fatalf("entries %+v", got)
	}
	if again, err := s.Revoke(ctx, storage.Revoked{JTI: "jti-1", ClientID: "app_test_other", ExpiresAt: exp.Add(time.Hour)}); err != nil || again {
		t.Fatalf("revoking again: created %v, err %v", again, err)
	}
	got, _ = s.RevokedAfter(ctx, storage.RevokedCursor{}, time.Now(), 10)
	if len(got) != 1 || got[0].ClientID != "app_test_a" || !got[0].ExpiresAt.Equal(exp) {
		t.Fatalf("a second revocation rewrote the entry: %+v", got)
	}
}

// testRevokedPagingAndSweep: paging by (created_at, _id) visits every
// live entry once, expired entries are never returned, and the sweep
// removes exactly the expired ones.
func testRevokedPagingAndSweep(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	want := map[string]bool{}
	for i := range 7 {
		jti := fmt.Sprintf("live-%d", i)
		want[jti] = true
		if _, err := s.Revoke(ctx, storage.Revoked{JTI: jti, ClientID: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := s.Revoke(ctx, storage.Revoked{JTI: fmt.Sprintf("dead-%d", i), ClientID: "c", ExpiresAt: now.Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	var c storage.RevokedCursor
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		batch, err := s.RevokedAfter(ctx, c, now, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range batch {
			if seen[r.JTI] {
				t.Fatalf("%s returned twice", r.JTI)
			}
			seen[r.JTI] = true
		}
		if len(batch) < 3 {
			break
		}
		last := batch[len(batch)-1]
		c = storage.RevokedCursor{CreatedAt: last.CreatedAt, JTI: last.JTI}
	}
	if len(seen) != len(want) {
		t.Fatalf("paged %v, want %v", seen, want)
	}
	for jti := range want {
		if !seen[jti] {
			t.Fatalf("%s not returned", jti)
		}
	}
	n, err := s.SweepRevoked(ctx, now)
	if err != nil || n != 3 {
		t.Fatalf("sweep deleted %d, %v; want 3", n, err)
	}
	left, _ := s.RevokedAfter(ctx, storage.RevokedCursor{}, time.Time{}, 100)
	if len(left) != 7 {
		t.Fatalf("%d entries left after the sweep, want 7", len(left))
	}
}
