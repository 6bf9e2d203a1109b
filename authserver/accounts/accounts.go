package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

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

// Accounts manages account keys (docs/credentials.md, "Scopes of a
// credential": account-scoped credentials for the admin API) and authenticates them from memory. The account document
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

// Account key roles (docs/admin-api.md, "Roles"). An owner may do
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

// maxAccountKeys bounds the account document.
const maxAccountKeys = 100

// NewKeyRequest is the input of Accounts.CreateKey.
type NewKeyRequest struct {
	// Name says whose or what the key is, 1 to 100 characters.
	Name string `json:"name"`
	// Role is owner, admin or viewer.
	Role string `json:"role"`
	// IdempotencyKey, if set, makes a retry return the key created first,
	// masked, instead of creating another.
	IdempotencyKey string `json:"-"`
}

// KeyView is an account key as listings show it: masked (prefix
// and last four), never its digest.
type KeyView struct {
	ID        string    `json:"key_id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Masked    string    `json:"masked"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// CreatedKey is a new account key with its plaintext, shown exactly
// once (empty, with Replay set, when the request repeated an earlier one).
type CreatedKey struct {
	KeyView
	Key    string              `json:"key,omitempty"`
	Replay *idempotency.Replay `json:"replay,omitempty"`
}

func viewAccountKey(k storage.AccountKey) KeyView {
	return KeyView{ID: k.ID, Name: k.Name, Role: k.Role, Masked: credential.Mask(k.Prefix, k.Last4), CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}
}

// requireOwner: only owners manage account keys (docs/admin-api.md,
// "Roles"; the admin routes check it too).
func requireOwner(actor authserver.Actor) error {
	if !RoleAllows(actor.Role, RoleOwner) {
		return authserver.NewError(authserver.KindForbidden, "forbidden", "only an owner account key manages account keys")
	}
	return nil
}

// CreateKey creates an account key with a role and returns its plaintext,
// shown this once; only its SHA-256 is stored. It authenticates at once on
// this instance and within cache.refresh_interval on the others. Errors:
// KindForbidden (actor not an owner), KindInvalid (invalid_name,
// invalid_role, invalid_idempotency_key), KindConflict
// (too_many_account_keys, idempotency_key_reused), KindUnavailable.
func (s *Accounts) CreateKey(ctx context.Context, actor authserver.Actor, in NewKeyRequest) (CreatedKey, error) {
	const action = "account_key.create"
	if err := requireOwner(actor); err != nil {
		s.audit.Fail(actor, action, "", "", "forbidden")
		return CreatedKey{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 || !utf8.ValidString(in.Name) {
		return CreatedKey{}, authserver.NewError(authserver.KindInvalid, "invalid_name", "name must be 1 to 100 characters")
	}
	if _, ok := roleRank[in.Role]; !ok {
		return CreatedKey{}, authserver.NewError(authserver.KindInvalid, "invalid_role", "role must be %q, %q or %q", RoleOwner, RoleAdmin, RoleViewer)
	}
	plain, rec := s.newKey(in.Name, in.Role, actor.ID)
	claim, err := s.idem.Begin(ctx, actor, in.IdempotencyKey, action, idempotency.Fingerprint(action, "", in), storage.IdempotencyRecord{KeyID: rec.ID})
	if err != nil {
		return CreatedKey{}, err
	}
	if claim != nil {
		rec.ID = claim.IDs().KeyID
	}
	if claim.Done() {
		return s.replayKey(ctx, rec.ID)
	}
	stored, err := s.store.UpdateAccount(ctx, func(a *storage.Account) error {
		for _, k := range a.Keys {
			if k.ID == rec.ID {
				return idempotency.ErrReplay
			}
		}
		if len(a.Keys) >= maxAccountKeys {
			return authserver.NewError(authserver.KindConflict, "too_many_account_keys", "the account has %d keys: delete unused ones first", maxAccountKeys)
		}
		a.Keys = append(a.Keys, rec)
		return nil
	})
	claim.Finish(ctx, err)
	if errors.Is(err, idempotency.ErrReplay) {
		return s.replayKey(ctx, rec.ID)
	}
	if err != nil {
		err = authserver.StoreError(err)
		s.audit.Fail(actor, action, "", "", authserver.AsError(err).Code)
		return CreatedKey{}, err
	}
	s.set(stored)
	s.audit.Record(ctx, actor, action, rec.ID, "", "success", map[string]string{"role": rec.Role})
	return CreatedKey{KeyView: viewAccountKey(rec), Key: plain}, nil
}

func (s *Accounts) replayKey(ctx context.Context, id string) (CreatedKey, error) {
	a, err := s.store.GetAccount(ctx)
	if err != nil {
		return CreatedKey{}, authserver.StoreError(err)
	}
	for _, k := range a.Keys {
		if k.ID == id {
			return CreatedKey{KeyView: viewAccountKey(k), Replay: idempotency.NewReplay()}, nil
		}
	}
	return CreatedKey{}, authserver.NewError(authserver.KindConflict, "idempotency_key_used",
		"the request with this Idempotency-Key completed earlier; its account key no longer exists")
}

// ListKeys returns every account key, masked, oldest first. Errors:
// KindForbidden (actor not an owner), KindUnavailable.
func (s *Accounts) ListKeys(ctx context.Context, actor authserver.Actor) ([]KeyView, error) {
	if err := requireOwner(actor); err != nil {
		return nil, err
	}
	a, err := s.store.GetAccount(ctx)
	if err != nil {
		return nil, authserver.StoreError(err)
	}
	out := make([]KeyView, 0, len(a.Keys))
	for _, k := range a.Keys {
		out = append(out, viewAccountKey(k))
	}
	return out, nil
}

// DeleteKey deletes an account key: it stops authenticating at once on
// this instance and within cache.refresh_interval on the others. The
// account always keeps an owner key. Errors: KindForbidden (actor not an
// owner), KindNotFound (account_key_not_found), KindConflict (last_owner),
// KindUnavailable.
func (s *Accounts) DeleteKey(ctx context.Context, actor authserver.Actor, id string) error {
	const action = "account_key.delete"
	if err := requireOwner(actor); err != nil {
		s.audit.Fail(actor, action, id, "", "forbidden")
		return err
	}
	var role string
	stored, err := s.store.UpdateAccount(ctx, func(a *storage.Account) error {
		i, owners := -1, 0
		for j, k := range a.Keys {
			if k.ID == id {
				i = j
			}
			if k.Role == RoleOwner {
				owners++
			}
		}
		if i < 0 {
			return authserver.NewError(authserver.KindNotFound, "account_key_not_found", "no account key %q", id)
		}
		role = a.Keys[i].Role
		if role == RoleOwner && owners <= 1 {
			return authserver.NewError(authserver.KindConflict, "last_owner", "%s is the last owner key: create another owner key first", id)
		}
		a.Keys = append(a.Keys[:i:i], a.Keys[i+1:]...)
		return nil
	})
	if err != nil {
		err = authserver.StoreError(err)
		s.audit.Fail(actor, action, id, "", authserver.AsError(err).Code)
		return err
	}
	s.set(stored)
	s.audit.Record(ctx, actor, action, id, "", "success", map[string]string{"role": role})
	return nil
}

// LookupKey returns the actor (key id and current role) of account key
// id, from this instance's copy of the account document, and false when
// no such key exists (deleted, or never created). The admin console asks
// it on every request of a signed-in session, so that deleting an
// account key ends its console sessions at once on this instance and
// within cache.refresh_interval on the others, and a session never keeps
// a role its key no longer has. It reads memory only.
func (s *Accounts) LookupKey(id string) (authserver.Actor, bool) {
	a := s.current.Load()
	if a == nil || id == "" {
		return authserver.Actor{}, false
	}
	for _, k := range a.Keys {
		if k.ID == id {
			return authserver.Actor{ID: k.ID, Role: k.Role}, true
		}
	}
	return authserver.Actor{}, false
}
