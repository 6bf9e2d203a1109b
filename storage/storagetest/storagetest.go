package storagetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/embedded"
	"github.com/authserver/authserver/storage/mongodb"
)

// Embedded starts an embedded FerretDB in a temporary directory, opens a
// MongoDB store on it with indexes created, and stops both when the test
// ends.
func Embedded(t testing.TB) (*mongodb.Store, *embedded.DB) {
	t.Helper()
	e, err := embedded.Start(t.TempDir(), "", nil)
	if err != nil {
		t.Fatalf("start embedded database: %v", err)
	}
	t.Cleanup(e.Close)
	s := open(t, e.URI(), "authserver")
	if err := e.IndexIDPaths(context.Background(), "authserver"); err != nil {
		t.Fatalf("index _id paths: %v", err)
	}
	return s, e
}

// externalEnv names the MongoDB that External connects to.
const externalEnv = "AUTHSERVER_TEST_MONGODB_URI"

// SkipUnlessExternal skips the test, saying why, unless
// AUTHSERVER_TEST_MONGODB_URI names a MongoDB to test against.
func SkipUnlessExternal(t testing.TB) {
	t.Helper()
	if os.Getenv(externalEnv) == "" {
		t.Skip(externalEnv + " is not set: skipping the run against a real MongoDB")
	}
}

// External opens a MongoDB store on the database named by
// AUTHSERVER_TEST_MONGODB_URI, in a database of its own, or skips the test
// when the variable is unset.
func External(t testing.TB) *mongodb.Store {
	t.Helper()
	SkipUnlessExternal(t)
	return open(t, os.Getenv(externalEnv), fmt.Sprintf("authserver_test_%d", time.Now().UnixNano()))
}

func open(t testing.TB, uri, db string) *mongodb.Store {
	t.Helper()
	ctx := context.Background()
	s, err := mongodb.Open(ctx, mongodb.Options{URI: uri, Database: db})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatalf("ensure indexes: %v", err)
	}
	return s
}

// Run runs the conformance suite against stores made by newStore, which
// must return a fresh, empty store each time it is called (once per
// subtest) and release it when its test ends.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"AppInsertGetDuplicate", testAppInsertGetDuplicate},
		{"AppUpdateCAS", testAppUpdateCAS},
		{"AppUpdateAbortWritesNothing", testAppUpdateAbort},
		{"AppUpdateClearsFields", testAppUpdateClears},
		{"AppListPaging", testAppListPaging},
		{"AppChangeLog", testAppChangeLog},
		{"AppImport", testAppImport},
		{"SecretUsageMax", testSecretUsageMax},
		{"KeySetLifecycle", testKeySet},
		{"Account", testAccount},
		{"AuditNewestFirst", testAudit},
		{"IdempotencyClaim", testIdempotencyClaim},
		{"IdempotencySweep", testIdempotencySweep},
		{"Customers", testCustomers},
		{"AssertionJTI", testAssertionJTI},
		{"DPoPProof", testDPoPProof},
		{"AppOrigins", testAppOrigins},
		{"RevokeIdempotent", testRevokeIdempotent},
		{"RevokedPagingAndSweep", testRevokedPagingAndSweep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func testApp(id string) storage.App {
	return storage.App{
		ID: id, Name: "name-" + id, Environment: "test", Enabled: true,
		Scopes: []string{"read"}, Audiences: []string{"https://api.example"},
		Secrets: []storage.Secret{{ID: "sec_" + id, Digest: []byte{1, 2, 3}, Prefix: "sk_test_", Last4: "abcd",
			Status: storage.SecretActive, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}},
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

func testAppInsertGetDuplicate(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if _, err := s.GetApp(ctx, "app_test_1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get missing app: got %v, want ErrNotFound", err)
	}
	a := testApp("app_test_1")
	if err := s.InsertApp(ctx, a); err != nil {
		t.Fatalf("insert: %v", err)
	}
	got, err := s.GetApp(ctx, a.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Version != 1 || got.Name != a.Name || len(got.Secrets) != 1 || got.Secrets[0].ID != a.Secrets[0].ID {
		t.Fatalf("get returned %+v", got)
	}
	if got.UpdatedAt.IsZero() {
		t.Fatal("updated_at was not set by the server")
	}
	a.Name = "other"
	if err := s.InsertApp(ctx, a); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("second insert: got %v, want ErrDuplicate", err)
	}
	got, _ = s.GetApp(ctx, a.ID)
	if got.Name != "name-app_test_1" {
		t.Fatalf("duplicate insert changed the app: %q", got.Name)
	}
}

func testAppUpdateCAS(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := testApp("app_test_cas")
	if err := s.InsertApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	// Concurrent increments of a counter kept in Scopes: with a working
	// compare-and-swap none is lost.
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateApp(ctx, a.ID, func(a *storage.App) error {
				a.Scopes = append(a.Scopes, fmt.Sprintf("s%d", i))
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrConflict):
		default:
			t.Fatalf("update: %v", err)
		}
	}
	got, err := s.GetApp(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Scopes) != 1+ok || got.Version != int64(1+ok) {
		t.Fatalf("after %d successful updates: %d scopes, version %d", ok, len(got.Scopes), got.Version)
	}
	if ok == 0 {
		t.Fatal("no concurrent update succeeded")
	}
}

func testAppUpdateAbort(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := testApp("app_test_abort")
	if err := s.InsertApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	before, _ := s.GetApp(ctx, a.ID)
	refuse := errors.New("refused")
	_, err := s.UpdateApp(ctx, a.ID, func(a *storage.App) error {
		a.Name = "changed"
		return refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("got %v, want the updater's error", err)
	}
	after, _ := s.GetApp(ctx, a.ID)
	if after.Name != before.Name || after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("aborted update wrote: before %+v after %+v", before, after)
	}
	if _, err := s.UpdateApp(ctx, "app_test_missing", func(*storage.App) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update missing: got %v, want ErrNotFound", err)
	}
}

// testAppUpdateClears: an update stores the app as the updater left it,
// fields set back to their zero value included (lists emptied, a lifetime
// back to the server default, a policy turned off), as read back by this
// and any later reader.
func testAppUpdateClears(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := testApp("app_test_clear")
	a.Origins = []string{"https://a.example"}
	a.AccessTokenLifetime, a.UserTokenLifetime = 5*time.Minute, time.Minute
	a.JWKSURI, a.SecretSigning = "https://a.example/jwks.json", true
	a.DPoPBoundAccessTokens, a.DPoPNonceRequired = true, true
	if err := s.InsertApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	clear := func(a *storage.App) error {
		a.Origins, a.AccessTokenLifetime, a.UserTokenLifetime = nil, 0, 0
		a.JWKSURI, a.SecretSigning = "", false
		a.DPoPBoundAccessTokens, a.DPoPNonceRequired = false, false
		return nil
	}
	if _, err := s.UpdateApp(ctx, a.ID, clear); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetApp(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := got
	_ = clear(&want)
	if !reflect.DeepEqual(got, want) || got.Version != 2 {
		t.Fatalf("after clearing: %+v", got)
	}
}

func testAppListPaging(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.InsertApp(ctx, testApp(fmt.Sprintf("app_test_%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.ListApps(ctx, storage.AppFilter{Page: storage.Page{Limit: 3}})
	if err != nil || len(first) != 3 {
		t.Fatalf("first page: %d apps, %v", len(first), err)
	}
	rest, err := s.ListApps(ctx, storage.AppFilter{Page: storage.Page{After: first[2].ID, Limit: 3}})
	if err != nil || len(rest) != 2 {
		t.Fatalf("second page: %d apps, %v", len(rest), err)
	}
	if rest[0].ID != "app_test_03" || rest[1].ID != "app_test_04" {
		t.Fatalf("second page: %s, %s", rest[0].ID, rest[1].ID)
	}
	named, err := s.ListApps(ctx, storage.AppFilter{NamePrefix: "name-app_test_04"})
	if err != nil || len(named) != 1 {
		t.Fatalf("name prefix: %d apps, %v", len(named), err)
	}
}

func testAppChangeLog(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i := range 3 {
		if err := s.InsertApp(ctx, testApp(fmt.Sprintf("app_test_c%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	mark, err := s.ServerTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Server timestamps have millisecond resolution: step past the mark.
	deadline := time.Now().Add(5 * time.Second)
	for {
		now, err := s.ServerTime(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if now.After(mark) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server clock does not advance")
		}
	}
	if _, err := s.UpdateApp(ctx, "app_test_c1", func(a *storage.App) error { a.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	changes, err := s.AppChangesSince(ctx, mark.Add(time.Millisecond), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].AppID != "app_test_c1" || changes[0].At.Before(mark) {
		t.Fatalf("changes since mark: %+v", changes)
	}
	// An update refused by its updater announces nothing.
	if _, err := s.UpdateApp(ctx, "app_test_c2", func(*storage.App) error { return errors.New("refused") }); err == nil {
		t.Fatal("refused update succeeded")
	}
	if again, _ := s.AppChangesSince(ctx, mark.Add(time.Millisecond), 100); len(again) != 1 {
		t.Fatalf("a refused update was announced: %+v", again)
	}
	all, err := s.AppChangesSince(ctx, time.Time{}, 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("every change: %d, %v", len(all), err)
	}
	n, err := s.SweepAppChanges(ctx, mark.Add(time.Millisecond))
	if err != nil || n != 3 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if rest, _ := s.AppChangesSince(ctx, time.Time{}, 100); len(rest) != 1 || rest[0].AppID != "app_test_c1" {
		t.Fatalf("after the sweep: %+v", rest)
	}
}

// testAppImport: an import stores new apps with Version 1 and a
// database-set updated_at, announces them by change records with no app
// id, and leaves an app whose id exists as it was while storing the rest.
func testAppImport(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	existing := testApp("app_test_imp1")
	existing.Name = "existing"
	if err := s.InsertApp(ctx, existing); err != nil {
		t.Fatal(err)
	}
	stored, err := s.GetApp(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	mark, err := s.ServerTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apps := []storage.App{testApp("app_test_imp0"), testApp("app_test_imp1"), testApp("app_test_imp2")}
	if err := s.ImportApps(ctx, apps); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("import with one existing id: got %v, want ErrDuplicate", err)
	}
	if err := s.ImportApps(ctx, []storage.App{testApp("app_test_imp3")}); err != nil {
		t.Fatalf("import of a new id: %v", err)
	}
	kept, err := s.GetApp(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Name != "existing" || kept.Version != stored.Version || !kept.UpdatedAt.Equal(stored.UpdatedAt) {
		t.Fatalf("the existing app changed: %+v, was %+v", kept, stored)
	}
	for _, id := range []string{"app_test_imp0", "app_test_imp2", "app_test_imp3"} {
		got, err := s.GetApp(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got.Version != 1 || got.UpdatedAt.IsZero() || len(got.Secrets) != 1 || got.Secrets[0].ID != "sec_"+id {
			t.Fatalf("%s stored as %+v", id, got)
		}
	}
	changes, err := s.AppChangesSince(ctx, mark.Add(-time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	announced := 0
	for _, c := range changes {
		switch c.AppID {
		case "":
			announced++
		case existing.ID: // InsertApp's own record
		default:
			t.Fatalf("an import recorded a change of app %s", c.AppID)
		}
	}
	if announced == 0 {
		t.Fatalf("no change record announces the imports: %+v", changes)
	}
}

func testSecretUsageMax(t *testing.T, s storage.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.RecordSecretUse(ctx, []storage.SecretUsage{
		{SecretID: "sec_a", AppID: "app_x", LastUsedAt: t0.Add(time.Hour)},
		{SecretID: "sec_b", AppID: "app_x", LastUsedAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	// An older time never moves last_used_at back.
	if err := s.RecordSecretUse(ctx, []storage.SecretUsage{
		{SecretID: "sec_a", AppID: "app_x", LastUsedAt: t0},
		{SecretID: "sec_b", AppID: "app_x", LastUsedAt: t0.Add(2 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SecretUsage(ctx, "app_x")
	if err != nil {
		t.Fatal(err)
	}
	if !got["sec_a"].Equal(t0.Add(time.Hour)) || !got["sec_b"].Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("usage: %v", got)
	}
}

func testKeySet(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if _, err := s.GetKeySet(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("empty: got %v, want ErrNotFound", err)
	}
	ks := storage.KeySet{Keys: []storage.SigningKey{{KID: "k1", Algorithm: "RS256", State: storage.KeyActive,
		Private: storage.Sealed{KEKID: "kek1", Nonce: []byte{1}, Ciphertext: []byte{2}}}}}
	if err := s.CreateKeySet(ctx, ks); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKeySet(ctx, ks); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("second create: got %v, want ErrDuplicate", err)
	}
	v, err := s.KeySetVersion(ctx)
	if err != nil || v != 1 {
		t.Fatalf("version: %d, %v", v, err)
	}
	got, err := s.UpdateKeySet(ctx, func(ks *storage.KeySet) error {
		ks.Keys = append(ks.Keys, storage.SigningKey{KID: "k2", State: storage.KeyNext})
		return nil
	})
	if err != nil || got.Version != 2 || len(got.Keys) != 2 {
		t.Fatalf("update: %+v, %v", got, err)
	}
	stored, err := s.GetKeySet(ctx)
	if err != nil || stored.Version != 2 || stored.Keys[0].Private.KEKID != "kek1" {
		t.Fatalf("stored: %+v, %v", stored, err)
	}
}

func testAccount(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if _, err := s.GetAccount(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("empty: got %v, want ErrNotFound", err)
	}
	a := storage.Account{Keys: []storage.AccountKey{{ID: "ak1", Role: storage.RoleOwner, Digest: []byte{9}}}}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, a); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("second create: got %v, want ErrDuplicate", err)
	}
	if _, err := s.UpdateAccount(ctx, func(a *storage.Account) error {
		a.Keys = append(a.Keys, storage.AccountKey{ID: "ak2", Role: storage.RoleViewer})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v, err := s.AccountVersion(ctx)
	if err != nil || v != 2 {
		t.Fatalf("version: %d, %v", v, err)
	}
}

func testAudit(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i, app := range []string{"a1", "a2", "a1"} {
		e := storage.AuditEvent{ID: fmt.Sprintf("ev%03d", i), Time: time.Now().UTC(), Actor: "ak1",
			Action: "app.create", Target: app, AppID: app, Outcome: "success"}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListAudit(ctx, storage.AuditFilter{AppID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "ev002" || got[1].ID != "ev000" {
		t.Fatalf("audit for a1, newest first: %+v", got)
	}
	page, err := s.ListAudit(ctx, storage.AuditFilter{Before: "ev002", Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != "ev001" {
		t.Fatalf("page before ev002: %+v, %v", page, err)
	}
}
