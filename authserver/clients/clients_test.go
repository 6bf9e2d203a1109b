package clients

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

func newTestCache(t *testing.T, store Store, size int) *Cache {
	t.Helper()
	c := NewCache(store, CacheConfig{Size: size}, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// A write made through the store (as by another instance) reaches a cache
// that holds the app at its next refresh; an unknown id that comes to exist
// is found after the refresh; apps the cache does not hold cost nothing.
func TestClientCacheFollowsTheChangeLog(t *testing.T) {
	ctx := context.Background()
	store, _ := storagetest.Embedded(t)
	for _, id := range []string{"app_test_a", "app_test_b"} {
		if err := store.InsertApp(ctx, storage.App{ID: id, Name: id, Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	c := newTestCache(t, store, 10)
	if e, err := c.Get(ctx, "app_test_a"); err != nil || !e.app.Enabled {
		t.Fatalf("get a: %+v, %v", e, err)
	}
	if _, err := c.Get(ctx, "app_test_new"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := store.UpdateApp(ctx, "app_test_a", func(a *storage.App) error { a.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertApp(ctx, storage.App{ID: "app_test_new", Name: "new", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if e, _ := c.Get(ctx, "app_test_a"); !e.app.Enabled {
		t.Fatal("the cache changed before a refresh: the test proves nothing")
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Get(ctx, "app_test_a"); err != nil || e.app.Enabled || e.app.Version != 2 {
		t.Fatalf("after refresh: %+v, %v", e.app, err)
	}
	if e, err := c.Get(ctx, "app_test_new"); err != nil || e.app.Name != "new" {
		t.Fatalf("new app after refresh: %+v, %v", e, err)
	}
	if _, ok := c.apps.Peek("app_test_b"); ok {
		t.Fatal("the refresh loaded an app the cache did not hold")
	}
}

// An id looked up before it existed is remembered as missing; once
// ImportApps adds it, the next refresh forgets that, and the app is found.
func TestClientCacheSeesImportedApps(t *testing.T) {
	ctx := context.Background()
	store, _ := storagetest.Embedded(t)
	c := newTestCache(t, store, 10)
	app := storage.App{ID: credential.NewAppID(credential.EnvTest), Name: "imported", Enabled: true}
	if _, err := c.Get(ctx, app.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("before the import: %v, want ErrNotFound", err)
	}
	if err := store.ImportApps(ctx, []storage.App{app}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, app.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("before the refresh the miss is remembered: %v", err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Get(ctx, app.ID); err != nil || e.app.Name != "imported" {
		t.Fatalf("after the refresh: %v, %v", e, err)
	}
}

// The cache holds at most Size apps, and unknown ids go to a cache of
// their own so that they cannot evict real apps.
func TestClientCacheBounds(t *testing.T) {
	ctx := context.Background()
	store, _ := storagetest.Embedded(t)
	var apps []storage.App
	for range 5 {
		apps = append(apps, storage.App{ID: credential.NewAppID(credential.EnvTest), Name: "a", Enabled: true})
	}
	if err := store.ImportApps(ctx, apps); err != nil {
		t.Fatal(err)
	}
	c := newTestCache(t, store, 3)
	if _, err := c.Get(ctx, apps[0].ID); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		_, _ = c.Get(ctx, credential.NewAppID(credential.EnvTest))
	}
	if _, ok := c.apps.Peek(apps[0].ID); !ok {
		t.Fatal("unknown ids evicted a real app")
	}
	for _, a := range apps {
		if _, err := c.Get(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("cache holds %d apps, bound 3", n)
	}
}

// A cache whose refreshes failed for longer than change records are kept
// drops everything rather than serve an app whose change it may have missed.
func TestClientCacheDropsAfterALongGap(t *testing.T) {
	ctx := context.Background()
	store, _ := storagetest.Embedded(t)
	if err := store.InsertApp(ctx, storage.App{ID: "app_test_a", Name: "a", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	c := newTestCache(t, store, 10)
	if _, err := c.Get(ctx, "app_test_a"); err != nil {
		t.Fatal(err)
	}
	c.lastRefresh.Store(time.Now().Add(-changeRetention).UnixNano())
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("%d apps kept across the gap", c.Len())
	}
}
