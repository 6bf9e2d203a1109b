package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

func importedApp(i int) storage.App {
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := fmt.Sprintf("app_test_imp%05d", i)
	return storage.App{
		ID: id, Name: "imported", Environment: "test", Enabled: true, Scopes: []string{"read"},
		Secrets: []storage.Secret{{ID: "sec_" + id, Digest: []byte{byte(i)}, Prefix: "sk_test_", Last4: "abcd",
			Status: storage.SecretActive, CreatedAt: now}},
		CreatedAt: now,
	}
}

// ImportApps stores every app across several batches with Version 1 and a
// server-set updated_at, announces each batch by one change record;
// an id that exists already is reported as ErrDuplicate and left as it was
// while the rest of its batch is still stored.
func TestImportApps(t *testing.T) {
	s, _ := storagetest.Embedded(t)
	ctx := context.Background()
	before, err := s.ServerTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	existing := importedApp(1500)
	existing.Name = "existing"
	if err := s.InsertApp(ctx, existing); err != nil {
		t.Fatal(err)
	}
	stored, err := s.GetApp(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}

	const n = 2300 // three batches; the second holds the duplicate
	apps := make([]storage.App, n)
	for i := range apps {
		apps[i] = importedApp(i)
	}
	err = s.ImportApps(ctx, apps)
	if !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("import with one existing id: got %v, want ErrDuplicate", err)
	}
	if c, err := s.CountApps(ctx); err != nil || c != n {
		t.Fatalf("count = %d, %v; want %d", c, err, n)
	}
	kept, err := s.GetApp(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Name != "existing" || !kept.UpdatedAt.Equal(stored.UpdatedAt) {
		t.Fatalf("the existing app changed: name %q updated_at %v, was %v", kept.Name, kept.UpdatedAt, stored.UpdatedAt)
	}
	for _, i := range []int{0, 999, 1000, 1499, 1501, 2299} {
		got, err := s.GetApp(ctx, apps[i].ID)
		if err != nil {
			t.Fatalf("app %d: %v", i, err)
		}
		if got.Version != 1 || got.UpdatedAt.Before(before.Add(-time.Second)) || len(got.Secrets) != 1 || got.Secrets[0].Digest[0] != byte(i) {
			t.Fatalf("app %d stored as %+v", i, got)
		}
	}
	changes, err := s.AppChangesSince(ctx, before.Add(-time.Second), 5000)
	if err != nil {
		t.Fatal(err)
	}
	// One record per batch, with no app id: the apps are new.
	batches := 0
	for _, c := range changes {
		if c.AppID == existing.ID {
			continue // InsertApp's own record
		}
		if c.AppID != "" {
			t.Fatalf("an import recorded a change of app %s", c.AppID)
		}
		batches++
	}
	if want := (n + 999) / 1000; batches != want {
		t.Fatalf("%d change records for %d batches", batches, want)
	}
}
