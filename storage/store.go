package storage

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns, wrapped with what it was doing. Callers test them
// with errors.Is.
var (
	// ErrNotFound: no record has that id.
	ErrNotFound = errors.New("storage: not found")
	// ErrDuplicate: a record with that id or unique key exists already.
	ErrDuplicate = errors.New("storage: duplicate")
	// ErrConflict: the record kept changing under a compare-and-swap
	// update; nothing was written.
	ErrConflict = errors.New("storage: concurrent update")
)

// Store is everything the server's packages need of a database. Each
// domain package declares the few methods it uses as an interface of its
// own; a Store satisfies them all. Implementations are safe for concurrent
// use, and several server instances may share one database: every
// guarantee below holds across instances, not only within one.
//
// Updates are compare-and-swap through updater closures: UpdateApp,
// UpdateKeySet, UpdateAccount (and ClaimIdempotency's take-over) load the
// record, let the closure change it and write the result as Version+1 only
// if no other writer changed the record in between, retrying a bounded
// number of times. If the closure returns an error, nothing is written and
// that error is returned (wrapped); after too many lost races the result is
// ErrConflict. The closure may run more than once.
//
// Times written by the database itself (UpdatedAt, AppChange.At,
// Revoked.CreatedAt, ServerTime) come from one clock, the database's, so
// that instances with skewed clocks agree on the order of changes. Expired
// records (AssertionJTI.Exp, DPoPProof.Exp, IdempotencyRecord.Exp,
// Revoked.ExpiresAt) are ignored by every query from their expiry on; the
// Sweep methods only reclaim their space.
//
// The conformance suite in storage/storagetest checks these rules against
// an implementation.
type Store interface {
	// Ping checks that the database answers; it is the readiness probe.
	Ping(ctx context.Context) error
	// Close releases the connection to the database.
	Close(ctx context.Context) error

	// InsertApp stores a new app with Version 1 and a database-set
	// UpdatedAt, announced in the change log. It returns ErrDuplicate if
	// the id is taken.
	InsertApp(ctx context.Context, a App) error
	// GetApp returns the app with that id, or ErrNotFound.
	GetApp(ctx context.Context, id string) (App, error)
	// ListApps returns apps ordered by id, after f.After, whose name starts
	// with f.NamePrefix (case-sensitive), at most f.Limit (default 100).
	ListApps(ctx context.Context, f AppFilter) ([]App, error)
	// UpdateApp is the compare-and-swap update of an app (see Store). A
	// written update is announced in the change log, a refused one is
	// not. It returns the stored app, ErrNotFound, or ErrConflict.
	UpdateApp(ctx context.Context, id string, update func(*App) error) (App, error)
	// ImportApps stores many new apps at once, each with Version 1, for
	// migrations and load tests; the rules of the app lifecycle are the
	// caller's to respect. The import is announced in the change log by
	// records with an empty AppID (the apps are new, so no cache holds
	// them). If some ids exist already, those apps are left as they were,
	// the others are still stored, and the error wraps ErrDuplicate.
	ImportApps(ctx context.Context, apps []App) error
	// AppAllowsAnyOrigin reports whether some enabled app lists origin
	// among its browser origins.
	AppAllowsAnyOrigin(ctx context.Context, origin string) (bool, error)

	// AppChangesSince returns the change-log records stamped at or after
	// since, oldest first, at most limit of them. Every write of an app
	// is announced by a record stamped before the write lands.
	AppChangesSince(ctx context.Context, since time.Time, limit int) ([]AppChange, error)
	// SweepAppChanges deletes change-log records stamped before before and
	// returns how many.
	SweepAppChanges(ctx context.Context, before time.Time) (int64, error)
	// ServerTime returns the database's current time, the clock of every
	// database-set time. It is how a cache picks its first change
	// watermark.
	ServerTime(ctx context.Context) (time.Time, error)

	// RecordSecretUse stores, for each secret, the later of its stored and
	// the given last-used time. It never changes an App or its Version.
	RecordSecretUse(ctx context.Context, uses []SecretUsage) error
	// SecretUsage returns the last-used times of an app's secrets, by
	// secret id.
	SecretUsage(ctx context.Context, appID string) (map[string]time.Time, error)

	// GetKeySet returns the key set, or ErrNotFound before the first key.
	GetKeySet(ctx context.Context) (KeySet, error)
	// KeySetVersion returns only the key set's version, for cheap polling,
	// or ErrNotFound before the first key.
	KeySetVersion(ctx context.Context) (int64, error)
	// CreateKeySet stores the first key set with Version 1. It returns
	// ErrDuplicate if another instance created it first.
	CreateKeySet(ctx context.Context, ks KeySet) error
	// UpdateKeySet is the compare-and-swap update of the key set (see
	// Store).
	UpdateKeySet(ctx context.Context, update func(*KeySet) error) (KeySet, error)

	// GetAccount returns the account, or ErrNotFound before the first
	// start.
	GetAccount(ctx context.Context) (Account, error)
	// AccountVersion returns only the account's version, for cheap
	// polling.
	AccountVersion(ctx context.Context) (int64, error)
	// CreateAccount stores the account with Version 1. It returns
	// ErrDuplicate if it exists: only the first instance to start
	// bootstraps it.
	CreateAccount(ctx context.Context, a Account) error
	// UpdateAccount is the compare-and-swap update of the account (see
	// Store).
	UpdateAccount(ctx context.Context, update func(*Account) error) (Account, error)

	// AppendAudit stores one audit event. e.ID must be unique and sort by
	// time (the caller uses a time-ordered id).
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns the events matching f, newest first, at most
	// f.Limit (default 100).
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// ClaimIdempotency stores rec unless an unexpired record with its id
	// exists. It returns (rec, true) when rec was stored, or the existing
	// record and false. A record whose Exp is at or before now counts as
	// absent and is replaced; of concurrent claims of one id exactly one
	// wins.
	ClaimIdempotency(ctx context.Context, rec IdempotencyRecord, now time.Time) (IdempotencyRecord, bool, error)
	// CompleteIdempotency marks the record done. Should the record have
	// vanished meanwhile (swept, or released by a failed twin request), it
	// is stored again, done, so that later retries still replay.
	CompleteIdempotency(ctx context.Context, rec IdempotencyRecord) error
	// ReleaseIdempotency deletes the record with id if it is not done, so
	// that a request that failed and changed nothing leaves the key free.
	ReleaseIdempotency(ctx context.Context, id string) error
	// SweepIdempotency deletes the records expired at now and returns how
	// many.
	SweepIdempotency(ctx context.Context, now time.Time) (int64, error)

	// InsertCustomer stores a new test user. It returns ErrDuplicate when
	// the app has a user with that username (or the id is taken).
	InsertCustomer(ctx context.Context, c Customer) error
	// GetCustomer returns the test user of appID with username, or
	// ErrNotFound.
	GetCustomer(ctx context.Context, appID, username string) (Customer, error)
	// GetCustomerBySubject returns the test user of appID whose opaque
	// identifier is subject, or ErrNotFound. A subject of another app
	// never matches.
	GetCustomerBySubject(ctx context.Context, appID, subject string) (Customer, error)
	// ListCustomers returns the test users of p.AppID ordered by username,
	// after p.After, at most p.Limit (default 100).
	ListCustomers(ctx context.Context, p CustomerPage) ([]Customer, error)
	// DeleteCustomer removes the test user of appID with username. It
	// returns ErrNotFound if there is none.
	DeleteCustomer(ctx context.Context, appID, username string) error

	// AssertionJTISeen reports whether id is recorded with an exp after
	// now.
	AssertionJTISeen(ctx context.Context, id string, now time.Time) (bool, error)
	// ClaimAssertionJTI records r unless a record with its id and an exp
	// after now exists, in which case it returns ErrDuplicate: of
	// concurrent claims of one id exactly one succeeds. An expired record
	// is replaced.
	ClaimAssertionJTI(ctx context.Context, r AssertionJTI, now time.Time) error
	// SweepAssertionJTIs deletes the records whose exp is at or before now
	// and returns how many.
	SweepAssertionJTIs(ctx context.Context, now time.Time) (int64, error)

	// ClaimDPoPProof records p unless a record with its id and an exp
	// after now exists, in which case it returns ErrDuplicate: of
	// concurrent claims of one id exactly one succeeds. An expired record
	// is replaced.
	ClaimDPoPProof(ctx context.Context, p DPoPProof, now time.Time) error
	// SweepDPoPProofs deletes the records whose exp is at or before now
	// and returns how many.
	SweepDPoPProofs(ctx context.Context, now time.Time) (int64, error)

	// Revoke puts r on the denylist, keyed by its jti, with a
	// database-set CreatedAt. Revoking one jti twice, concurrently or
	// not, leaves one entry, the first; Revoke reports whether this call
	// created it.
	Revoke(ctx context.Context, r Revoked) (created bool, err error)
	// RevokedAfter returns the denylist entries after cursor c whose exp
	// is after now, ordered by (CreatedAt, JTI), at most limit of them.
	// Callers page by passing the last entry's cursor.
	RevokedAfter(ctx context.Context, c RevokedCursor, now time.Time, limit int) ([]Revoked, error)
	// SweepRevoked deletes the entries whose exp is at or before now and
	// returns how many.
	SweepRevoked(ctx context.Context, now time.Time) (int64, error)
}
