package mongodb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/embedded"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func openEmbedded(t *testing.T) *Store {
	t.Helper()
	e, err := embedded.Start(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	s, err := Open(context.Background(), Options{URI: e.URI()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// A writer that died between its claim and its write leaves the document
// behind its claim. A young claim is left to its writer (the next update
// gives up with ErrConflict and writes nothing); an old one is rolled
// forward, and the update then applies on top of it.
func TestWriteClaimRollForward(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t)
	app := storage.App{ID: "app_test_x", Name: "before", Enabled: true, CreatedAt: time.Now().UTC()}
	if err := s.InsertApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	// The dead writer's claim for version 2.
	dead := app
	dead.Name, dead.Version = "claimed", 2
	body, err := bson.Marshal(dead)
	if err != nil {
		t.Fatal(err)
	}
	claim := writeClaim{ID: "apps/app_test_x/2", CreatedAt: time.Now().UTC(), Body: body}
	if _, err := s.db.Collection(colWriteClaims).InsertOne(ctx, claim); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateApp(ctx, app.ID, func(a *storage.App) error { a.Name = "after"; return nil })
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("update behind a young claim: %v, want ErrConflict", err)
	}
	if got, _ := s.GetApp(ctx, app.ID); got.Name != "before" || got.Version != 1 {
		t.Fatalf("young claim: app is %q v%d", got.Name, got.Version)
	}

	// Age the claim past claimTimeout.
	if _, err := s.db.Collection(colWriteClaims).UpdateOne(ctx, bson.D{{Key: "_id", Value: claim.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "created_at", Value: time.Now().Add(-2 * claimTimeout)}}}}); err != nil {
		t.Fatal(err)
	}
	var seen string
	got, err := s.UpdateApp(ctx, app.ID, func(a *storage.App) error { seen = a.Name; a.Name = "after"; return nil })
	if err != nil {
		t.Fatalf("update behind an old claim: %v", err)
	}
	if seen != "claimed" || got.Name != "after" || got.Version != 3 {
		t.Fatalf("rolled forward: updater saw %q, result %q v%d", seen, got.Name, got.Version)
	}
}
