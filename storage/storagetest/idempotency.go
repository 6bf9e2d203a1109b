package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
)

func idemRecord(id, secretID string, exp time.Time) storage.IdempotencyRecord {
	return storage.IdempotencyRecord{
		ID: id, Actor: "acck_1", Operation: "secret.create", Fingerprint: []byte{1},
		AppID: "app_test_1", SecretID: secretID,
		CreatedAt: exp.Add(-24 * time.Hour), Exp: exp,
	}
}

// testIdempotencyClaim: the first claim of a key wins, concurrent claims
// get exactly one winner, later claims see the winner's record, done and
// release behave, and an expired record is taken over by exactly one of
// several racing claims.
func testIdempotencyClaim(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	exp := now.Add(24 * time.Hour)

	const racers = 8
	var wg sync.WaitGroup
	wins := make(chan string, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := idemRecord("acck_1/k1", "sec_"+string(rune('a'+i)), exp)
			got, claimed, err := s.ClaimIdempotency(ctx, rec, now)
			if err != nil {
				t.Errorf("claim: %v", err)
				return
			}
			if claimed {
				wins <- got.SecretID
			}
		}()
	}
	wg.Wait()
	close(wins)
	var winners []string
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("%d claims won the same key, want 1: %v", len(winners), winners)
	}
	got, claimed, err := s.ClaimIdempotency(ctx, idemRecord("acck_1/k1", "sec_late", exp), now)
	if err != nil || claimed || got.SecretID != winners[0] || got.Done {
		t.Fatalf("late claim: %+v claimed=%v err=%v, want the winner's pending record", got, claimed, err)
	}
	if err := s.CompleteIdempotency(ctx, got); err != nil {
		t.Fatal(err)
	}
	// Release never deletes a done record.
	if err := s.ReleaseIdempotency(ctx, got.ID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ = s.ClaimIdempotency(ctx, idemRecord("acck_1/k1", "sec_x", exp), now); !got.Done || got.SecretID != winners[0] {
		t.Fatalf("after completion: %+v", got)
	}

	// A pending record is released and the key is free again.
	if _, claimed, _ := s.ClaimIdempotency(ctx, idemRecord("acck_1/k2", "sec_1", exp), now); !claimed {
		t.Fatal("fresh key not claimed")
	}
	if err := s.ReleaseIdempotency(ctx, "acck_1/k2"); err != nil {
		t.Fatal(err)
	}
	if got, claimed, _ := s.ClaimIdempotency(ctx, idemRecord("acck_1/k2", "sec_2", exp), now); !claimed || got.SecretID != "sec_2" {
		t.Fatalf("released key: %+v claimed=%v", got, claimed)
	}

	// Expired: racing claims take it over, exactly one wins.
	later := exp.Add(time.Second)
	wins = make(chan string, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := idemRecord("acck_1/k1", "sec_new"+string(rune('a'+i)), later.Add(24*time.Hour))
			got, claimed, err := s.ClaimIdempotency(ctx, rec, later)
			if err != nil {
				t.Errorf("claim expired: %v", err)
				return
			}
			if claimed {
				wins <- got.SecretID
			} else if got.Done || got.SecretID == winners[0] {
				t.Errorf("a racer saw the expired record: %+v", got)
			}
		}()
	}
	wg.Wait()
	close(wins)
	winners = winners[:0]
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("%d claims took over the expired key, want 1: %v", len(winners), winners)
	}
}

// testIdempotencySweep deletes expired records only.
func testIdempotencySweep(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i, exp := range []time.Time{now.Add(-time.Second), now, now.Add(time.Second)} {
		if _, _, err := s.ClaimIdempotency(ctx, idemRecord("acck_1/s"+string(rune('0'+i)), "sec", exp), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SweepIdempotency(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("sweep: %d, %v; want 2 deleted", n, err)
	}
	if got, claimed, _ := s.ClaimIdempotency(ctx, idemRecord("acck_1/s2", "other", now.Add(time.Hour)), now); claimed || got.SecretID != "sec" {
		t.Fatalf("the unexpired record was swept: %+v", got)
	}
}
