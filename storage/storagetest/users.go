package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
)

// testCustomers: a username is unique within its app only; look-ups by
// username and by subject never cross apps; listing pages by username.
func testCustomers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id, app, user string) storage.Customer {
		return storage.Customer{ID: id, AppID: app, Username: user, Subject: "sub-" + app + "-" + user, PasswordHash: "$argon2id$x", CreatedAt: now}
	}
	for _, c := range []storage.Customer{mk("c1", "app_a", "alice"), mk("c2", "app_a", "bob"), mk("c3", "app_b", "alice")} {
		if err := s.InsertCustomer(ctx, c); err != nil {
			t.Fatalf("insert %s: %v", c.ID, err)
		}
	}
	if err := s.InsertCustomer(ctx, mk("c4", "app_a", "alice")); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("second alice in app_a: got %v, want ErrDuplicate", err)
	}
	got, err := s.GetCustomer(ctx, "app_b", "alice")
	if err != nil || got.ID != "c3" {
		t.Fatalf("get app_b/alice: %+v %v", got, err)
	}
	if _, err := s.GetCustomerBySubject(ctx, "app_b", "sub-app_a-alice"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("subject of app_a found under app_b: %v", err)
	}
	if got, err := s.GetCustomerBySubject(ctx, "app_a", "sub-app_a-bob"); err != nil || got.Username != "bob" {
		t.Fatalf("by subject: %+v %v", got, err)
	}
	page, err := s.ListCustomers(ctx, storage.CustomerPage{AppID: "app_a", Page: storage.Page{Limit: 1}})
	if err != nil || len(page) != 1 || page[0].Username != "alice" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	page, err = s.ListCustomers(ctx, storage.CustomerPage{AppID: "app_a", Page: storage.Page{After: "alice"}})
	if err != nil || len(page) != 1 || page[0].Username != "bob" {
		t.Fatalf("second page: %+v %v", page, err)
	}
	if err := s.DeleteCustomer(ctx, "app_b", "bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	if err := s.DeleteCustomer(ctx, "app_a", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCustomer(ctx, "app_b", "alice"); err != nil {
		t.Fatalf("deleting app_a/alice touched app_b/alice: %v", err)
	}
}

// testAssertionJTI: of concurrent claims of one jti exactly one wins; a
// live record is a replay, an expired one is replaced; the sweep removes
// only expired records.
func testAssertionJTI(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := storage.AssertionJTI{ID: "app_a/j1", AppID: "app_a", Exp: now.Add(time.Minute), CreatedAt: now}
	claimOnce(t, func() error { return s.ClaimAssertionJTI(ctx, rec, now) })
	if seen, err := s.AssertionJTISeen(ctx, rec.ID, now); err != nil || !seen {
		t.Fatalf("seen at now: %v %v", seen, err)
	}
	later := now.Add(2 * time.Minute)
	if seen, _ := s.AssertionJTISeen(ctx, rec.ID, later); seen {
		t.Fatal("an expired record still counts as seen")
	}
	// After exp the jti may be claimed again (the old record is replaced).
	again := rec
	again.Exp = later.Add(time.Minute)
	if err := s.ClaimAssertionJTI(ctx, again, later); err != nil {
		t.Fatalf("claim after expiry: %v", err)
	}
	for i := range 3 {
		r := storage.AssertionJTI{ID: fmt.Sprintf("app_a/old%d", i), AppID: "app_a", Exp: now.Add(-time.Second), CreatedAt: now}
		if err := s.ClaimAssertionJTI(ctx, r, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	n2, err := s.SweepAssertionJTIs(ctx, now)
	if err != nil || n2 != 3 {
		t.Fatalf("sweep removed %d (%v), want 3", n2, err)
	}
	if seen, _ := s.AssertionJTISeen(ctx, rec.ID, later); !seen {
		t.Fatal("the sweep removed a live record")
	}
}

// testAppOrigins: an origin counts only for enabled apps that list it.
func testAppOrigins(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := testApp("app_test_origin")
	a.Origins = []string{"https://shop.example", "https://m.shop.example"}
	b := testApp("app_test_disabled")
	b.Origins = []string{"https://off.example"}
	b.Enabled = false
	for _, app := range []storage.App{a, b} {
		if err := s.InsertApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	for origin, want := range map[string]bool{
		"https://m.shop.example": true, "https://shop.example": true,
		"https://off.example": false, "https://evil.example": false, "https://shop.example.evil": false,
	} {
		got, err := s.AppAllowsAnyOrigin(ctx, origin)
		if err != nil || got != want {
			t.Errorf("%s: got %v (%v), want %v", origin, got, err, want)
		}
	}
}
