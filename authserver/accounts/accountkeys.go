package accounts

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/storage"
)

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

// requireOwner: only owners manage account keys (seed 000; the admin
// routes check it too).
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
