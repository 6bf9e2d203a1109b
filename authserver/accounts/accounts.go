package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
)

// Store is what account keys need of the database.
type Store interface {
	GetAccount(ctx context.Context) (storage.Account, error)
	AccountVersion(ctx context.Context) (int64, error)
	CreateAccount(ctx context.Context, a storage.Account) error
	UpdateAccount(ctx context.Context, update func(*storage.Account) error) (storage.Account, error)
}

// Accounts manages account keys (seed 000: account-scoped credentials for
// the admin API) and authenticates them from memory. The account document
// is small; every instance keeps it and reloads it when its version
// changes.
type Accounts struct {
	store   Store
	audit   *audit.Auditor
	idem    *idempotency.Idempotency
	now     func() time.Time
	log     *slog.Logger
	refresh time.Duration
	current atomic.Pointer[storage.Account]
}

// NewAccounts returns the account key service; refresh is how often it
// checks for changes made by other instances; key creation honours
// idempotency keys through idem.
func NewAccounts(store Store, audit *audit.Auditor, idem *idempotency.Idempotency, refresh time.Duration, now func() time.Time, log *slog.Logger) *Accounts {
	if refresh <= 0 {
		refresh = 2 * time.Second
	}
	return &Accounts{store: store, audit: audit, idem: idem, now: now, log: log, refresh: refresh}
}

// Bootstrap creates the account with one owner key if the store has none
// and returns that key's plaintext (to be written to admin.key); it returns
// "" when the account exists already, including when another instance
// created it first. It then loads the account.
func (s *Accounts) Bootstrap(ctx context.Context) (ownerKey string, err error) {
	return s.bootstrap(ctx, "")
}

// BootstrapWith is Bootstrap with the owner key given by the operator
// (a key from NewAccountKey, for instance mounted from a Kubernetes
// Secret) rather than generated: only its digest is stored, and it is
// never returned. created reports whether this call created the account;
// when the account exists already the key is ignored. It fails with
// ErrMalformedOwnerKey for a key that is not a well-formed account key.
func (s *Accounts) BootstrapWith(ctx context.Context, ownerKey string) (created bool, err error) {
	if !credential.WellFormed(ownerKey, credential.AccountKeyPrefix) {
		return false, ErrMalformedOwnerKey
	}
	key, err := s.bootstrap(ctx, ownerKey)
	return key != "", err
}

// ErrMalformedOwnerKey is BootstrapWith's answer to a key that lacks the
// account key prefix, length or checksum.
var ErrMalformedOwnerKey = errors.New("the owner key is not a well-formed account key (generate one with: authserver account-keys generate)")

// bootstrap creates the account with the owner key plain (generated when
// "") and returns it when this call created the account.
func (s *Accounts) bootstrap(ctx context.Context, plain string) (ownerKey string, err error) {
	_, err = s.store.GetAccount(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		key := plain
		if key == "" {
			key = credential.NewAccountKey()
		}
		rec := s.keyRecord(key, "owner", storage.RoleOwner, "system")
		err = s.store.CreateAccount(ctx, storage.Account{Keys: []storage.AccountKey{rec}})
		switch {
		case err == nil:
			ownerKey = key
			s.audit.Record(ctx, authserver.ActorSystem, "account_key.create", rec.ID, "", "success", map[string]string{"role": rec.Role})
		case errors.Is(err, storage.ErrDuplicate):
		default:
			return "", fmt.Errorf("create account: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("load account: %w", err)
	}
	if err := s.load(ctx); err != nil {
		return "", err
	}
	return ownerKey, nil
}

func (s *Accounts) newKey(name, role, createdBy string) (plain string, rec storage.AccountKey) {
	plain = credential.NewAccountKey()
	return plain, s.keyRecord(plain, name, role, createdBy)
}

// keyRecord is the stored form of the account key plain: its digest and
// mask, never the key.
func (s *Accounts) keyRecord(plain, name, role, createdBy string) storage.AccountKey {
	prefix, last4 := credential.MaskParts(plain)
	d := credential.Digest(plain)
	return storage.AccountKey{
		ID: credential.NewID("acck_"), Name: name, Role: role, Digest: d[:], Prefix: prefix, Last4: last4,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: createdBy,
	}
}

func (s *Accounts) load(ctx context.Context) error {
	a, err := s.store.GetAccount(ctx)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	s.set(a)
	return nil
}

// set installs a unless a newer version is installed.
func (s *Accounts) set(a storage.Account) {
	for {
		cur := s.current.Load()
		if cur != nil && cur.Version >= a.Version {
			return
		}
		if s.current.CompareAndSwap(cur, &a) {
			return
		}
	}
}

// Run reloads the account whenever its version changes, until ctx ends.
func (s *Accounts) Run(ctx context.Context) {
	periodic.Every(ctx, s.refresh, s.log, "account key refresh", s.refreshIfChanged)
}

// refreshIfChanged reloads the account if its version changed.
func (s *Accounts) refreshIfChanged(ctx context.Context) error {
	v, err := s.store.AccountVersion(ctx)
	if err != nil {
		return err
	}
	if cur := s.current.Load(); cur == nil || cur.Version != v {
		return s.load(ctx)
	}
	return nil
}

// Authenticate returns the actor (key id and role) of the account key whose
// plaintext is key, comparing digests in constant time against every key.
// Errors: KindUnauthenticated, the same for a malformed, unknown or deleted
// key.
func (s *Accounts) Authenticate(key string) (authserver.Actor, error) {
	d := credential.Digest(key)
	wellFormed := credential.WellFormed(key, credential.AccountKeyPrefix)
	var found storage.AccountKey
	ok := false
	if a := s.current.Load(); a != nil {
		for _, k := range a.Keys {
			if credential.ConstantTimeEqual(k.Digest, d[:]) {
				found, ok = k, true
			}
		}
	}
	if !ok || !wellFormed {
		return authserver.Actor{}, authserver.NewError(authserver.KindUnauthenticated, "unauthenticated", "a valid account key is required")
	}
	return authserver.Actor{ID: found.ID, Role: found.Role}, nil
}

// Account key roles (issue: account keys with roles). An owner may do
// everything, an admin everything but manage account keys, a viewer only
// read masked metadata.
const (
	RoleOwner  = storage.RoleOwner
	RoleAdmin  = storage.RoleAdmin
	RoleViewer = storage.RoleViewer
)

var roleRank = map[string]int{RoleViewer: 1, RoleAdmin: 2, RoleOwner: 3}

// RoleAllows reports whether a key of role have may do what needs role
// need. An unknown role allows nothing.
func RoleAllows(have, need string) bool {
	h, ok := roleRank[have]
	return ok && h >= roleRank[need]
}
