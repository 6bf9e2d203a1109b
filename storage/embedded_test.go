package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// The embedded database can be taken away and given back on the same
// address and files: a Store opened before keeps working after Restart
// and sees what was written before Stop.
func TestEmbeddedStopRestart(t *testing.T) {
	s, e := storagetest.Embedded(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if _, err := s.Revoke(ctx, storage.Revoked{JTI: "before", ClientID: "c", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	uri := e.URI()
	e.Stop()
	e.Stop() // idempotent
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err := s.Ping(short)
	cancel()
	if err == nil {
		t.Fatal("ping succeeded with the database stopped")
	}
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	if e.URI() != uri {
		t.Fatalf("URI changed across the restart: %s, then %s", uri, e.URI())
	}
	if err := e.Restart(); err == nil {
		t.Fatal("restarting a running database succeeded")
	}
	// The driver reconnects on its own; poll with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not reconnect: %v", err)
		}
	}
	got, err := s.RevokedAfter(ctx, storage.RevokedCursor{}, time.Now(), 10)
	if err != nil || len(got) != 1 || got[0].JTI != "before" {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if created, err := s.Revoke(ctx, storage.Revoked{JTI: "after", ClientID: "c", ExpiresAt: exp}); err != nil || !created {
		t.Fatalf("write after restart: %v", err)
	}
}
