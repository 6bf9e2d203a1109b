package users

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/storage"
)

// TestUserStore is what test users need of the database.
type TestUserStore interface {
	GetApp(ctx context.Context, id string) (storage.App, error)
	InsertCustomer(ctx context.Context, c storage.Customer) error
	GetCustomer(ctx context.Context, appID, username string) (storage.Customer, error)
	GetCustomerBySubject(ctx context.Context, appID, subject string) (storage.Customer, error)
	ListCustomers(ctx context.Context, p storage.CustomerPage) ([]storage.Customer, error)
	DeleteCustomer(ctx context.Context, appID, username string) error
}

// Limits of test-user fields.
const (
	MaxUsernameLen    = 128
	minPasswordLen    = 8
	maxPasswordLen    = 1024
	testUserAppPrefix = credential.AppIDPrefix + credential.EnvTest + "_"
)

// TestUsers manages test users (a test harness fetches a user's
// token with the user's username and password): registered under one
// test-environment app, passwords hashed with argon2id, each with its
// opaque customer identifier. Test users exist for test harnesses only, so
// a live app cannot have any: a password login is weaker than the app's own
// authentication of its users, which the delegated and secure modes rely
// on.
type TestUsers struct {
	store    TestUserStore
	subjects *Subjects
	audit    *audit.Auditor
	hasher   *passwordHasher
	now      func() time.Time
}

// NewTestUsers returns the test-user service.
func NewTestUsers(store TestUserStore, subjects *Subjects, audit *audit.Auditor, now func() time.Time) *TestUsers {
	return &TestUsers{store: store, subjects: subjects, audit: audit, hasher: newPasswordHasher(), now: now}
}

// NewTestUser is the input of TestUsers.Create.
type NewTestUser struct {
	// Username is what the user logs in with: 1 to 128 characters of
	// letters, digits and . _ @ + -.
	Username string `json:"username"`
	// Password is 8 to 1024 bytes; it is hashed and never stored or shown.
	Password string `json:"password"`
	// CustomerID is the app's own id for the user, from which the opaque
	// identifier is derived; default the username. It is not stored. The
	// same id given to the delegated mode or a signed assertion yields the
	// same identifier.
	CustomerID string `json:"customer_id,omitempty"`
}

// TestUserView is what the admin API shows of a test user: never the
// password or its hash.
type TestUserView struct {
	ID       string `json:"user_id"`
	AppID    string `json:"app_id"`
	Username string `json:"username"`
	// Subject is the opaque customer identifier: the "sub" of the user's
	// tokens.
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"created_at"`
}

func viewTestUser(c storage.Customer) TestUserView {
	return TestUserView{ID: c.ID, AppID: c.AppID, Username: c.Username, Subject: c.Subject, CreatedAt: c.CreatedAt}
}

func validUsername(u string) bool {
	if u == "" || utf8.RuneCountInString(u) > MaxUsernameLen {
		return false
	}
	for _, r := range u {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '@' || r == '+' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Create registers a test user under appID. Errors: KindInvalid for a bad
// username, password or customer id; KindNotFound for an unknown app;
// KindConflict when the app is not a test app (code "live_app") or the
// username is taken (code "duplicate").
func (c *TestUsers) Create(ctx context.Context, actor authserver.Actor, appID string, in NewTestUser) (TestUserView, error) {
	if !validUsername(in.Username) {
		return TestUserView{}, authserver.NewError(authserver.KindInvalid, "invalid_username", "username must be 1 to %d letters, digits or . _ @ + -", MaxUsernameLen)
	}
	if len(in.Password) < minPasswordLen || len(in.Password) > maxPasswordLen {
		return TestUserView{}, authserver.NewError(authserver.KindInvalid, "invalid_password", "password must be %d to %d bytes", minPasswordLen, maxPasswordLen)
	}
	if in.CustomerID == "" {
		in.CustomerID = in.Username
	}
	if !ValidCustomerID(in.CustomerID) {
		return TestUserView{}, authserver.NewError(authserver.KindInvalid, "invalid_customer_id", "customer_id must be 1 to %d bytes of printable UTF-8", MaxCustomerIDLen)
	}
	app, err := c.store.GetApp(ctx, appID)
	if err != nil {
		return TestUserView{}, authserver.StoreError(err)
	}
	if app.Environment != credential.EnvTest {
		return TestUserView{}, authserver.NewError(authserver.KindConflict, "live_app", "test users can be registered only under test-environment apps (%s…)", testUserAppPrefix)
	}
	if _, err := c.store.GetCustomer(ctx, appID, in.Username); err == nil {
		return TestUserView{}, authserver.NewError(authserver.KindConflict, "duplicate", "the app has a user with that username")
	} else if !errors.Is(err, storage.ErrNotFound) {
		return TestUserView{}, authserver.StoreError(err)
	}
	subject, err := c.subjects.Subject(ctx, &app, in.CustomerID)
	if err != nil {
		return TestUserView{}, err
	}
	hash, err := c.hasher.Hash(ctx, in.Password)
	if err != nil {
		return TestUserView{}, &authserver.Error{Kind: authserver.KindUnavailable, Code: "busy", Message: "the password could not be hashed in time", Err: err}
	}
	rec := storage.Customer{
		ID: credential.NewID("usr_"), AppID: appID, Username: in.Username, Subject: subject,
		PasswordHash: hash, CreatedAt: c.now().UTC().Truncate(time.Millisecond),
	}
	if err := c.store.InsertCustomer(ctx, rec); err != nil {
		return TestUserView{}, authserver.StoreError(err)
	}
	c.audit.Record(ctx, actor, "user.create", rec.ID, appID, "success", nil)
	return viewTestUser(rec), nil
}

// List returns the test users of appID ordered by username, after
// page.After, at most page.Limit (1 to 500, default 100); next is the
// cursor of the following page, "" at the end. Errors: KindNotFound for
// an unknown app.
func (c *TestUsers) List(ctx context.Context, appID string, page authserver.Page) (users []TestUserView, next string, err error) {
	if _, err := c.store.GetApp(ctx, appID); err != nil {
		return nil, "", authserver.StoreError(err)
	}
	if page.Limit <= 0 || page.Limit > 500 {
		page.Limit = 100
	}
	rows, err := c.store.ListCustomers(ctx, storage.CustomerPage{AppID: appID, Page: storage.Page{After: page.After, Limit: page.Limit + 1}})
	if err != nil {
		return nil, "", authserver.StoreError(err)
	}
	if len(rows) > page.Limit {
		rows = rows[:page.Limit]
		next = rows[len(rows)-1].Username
	}
	users = make([]TestUserView, 0, len(rows))
	for _, r := range rows {
		users = append(users, viewTestUser(r))
	}
	return users, next, nil
}

// Delete removes the test user username of appID; its tokens stay valid
// until they expire (they are stateless). Errors: KindNotFound.
func (c *TestUsers) Delete(ctx context.Context, actor authserver.Actor, appID, username string) error {
	if err := c.store.DeleteCustomer(ctx, appID, username); err != nil {
		return authserver.StoreError(err)
	}
	c.audit.Record(ctx, actor, "user.delete", username, appID, "success", nil)
	return nil
}

// errBadLogin is the one answer to a failed test-user login, whatever was
// wrong: RFC 6749 §5.2 invalid_grant.
var errBadLogin = authserver.NewError(authserver.KindUnauthenticated, "invalid_grant", "the username or password is incorrect")

// Authenticate checks a test user's password and returns the user. An
// unknown user costs one argon2id hash like a wrong password and gets the
// same error (KindUnauthenticated); KindUnavailable when the store cannot
// be reached or no hashing slot frees before ctx ends.
func (c *TestUsers) Authenticate(ctx context.Context, appID, username, password string) (storage.Customer, error) {
	var rec storage.Customer
	if validUsername(username) && len(password) <= maxPasswordLen {
		r, err := c.store.GetCustomer(ctx, appID, username)
		switch {
		case err == nil:
			rec = r
		case !errors.Is(err, storage.ErrNotFound):
			return storage.Customer{}, authserver.StoreError(err)
		}
	}
	ok, err := c.hasher.Verify(ctx, rec.PasswordHash, password)
	if err != nil {
		return storage.Customer{}, &authserver.Error{Kind: authserver.KindUnavailable, Code: "busy", Message: "too many logins at once; retry", Err: err}
	}
	if !ok {
		return storage.Customer{}, errBadLogin
	}
	return rec, nil
}

// PasswordHashes returns how many argon2id hashes of test-user passwords
// have been computed (logins and registrations): the CPU the endpoint
// spends on them, each tens of milliseconds of one core.
func (c *TestUsers) PasswordHashes() uint64 { return c.hasher.computed.Load() }

// Profile is what the reference resource shows of a customer.
type Profile struct {
	AppID string `json:"app_id"`
	// Customer is the opaque customer identifier.
	Customer string `json:"customer"`
	// Username is set for test users only.
	Username string `json:"username,omitempty"`
}

// Profile returns the profile of the customer of appID whose identifier is
// subject, and whether the app has such a test user. The app is part of
// the look-up, so one app's identifiers never find another app's users.
func (c *TestUsers) Profile(ctx context.Context, appID, subject string) (Profile, bool, error) {
	rec, err := c.store.GetCustomerBySubject(ctx, appID, subject)
	if errors.Is(err, storage.ErrNotFound) {
		return Profile{AppID: appID, Customer: subject}, false, nil
	}
	if err != nil {
		return Profile{}, false, authserver.StoreError(err)
	}
	return Profile{AppID: appID, Customer: subject, Username: rec.Username}, true, nil
}
