package authserver

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/storage"
)

// maxAccountKeys bounds the account document.
const maxAccountKeys = 100

// NewAccountKeyRequest is the input of Accounts.CreateKey.
type NewAccountKeyRequest struct {
	// Name says whose or what the key is, 1 to 100 characters.
	Name string `json:"name"`
	// Role is owner, admin or viewer.
	Role string `json:"role"`
	// IdempotencyKey, if set, makes a retry return the key created first,
	// masked, instead of creating another.
	IdempotencyKey string `json:"-"`
}

// AccountKeyView is an account key as listings show it: masked (prefix
// and last four), never its digest.
type AccountKeyView struct {
	ID        string    `json:"key_id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Masked    string    `json:"masked"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// CreatedAccountKey is a new account key with its plaintext, shown exactly
// once (empty, with Replay set, when the request repeated an earlier one).
type CreatedAccountKey struct {
	AccountKeyView
	Key    string  `json:"key,omitempty"`
	Replay *Replay `json:"replay,omitempty"`
}

func viewAccountKey(k storage.AccountKey) AccountKeyView {
	return AccountKeyView{ID: k.ID, Name: k.Name, Role: k.Role, Masked: credential.Mask(k.Prefix, k.Last4), CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}
}

// requireOwner: only owners manage account keys (seed 000; the admin
// routes check it too).
func requireOwner(actor Actor) error {
	if !RoleAllows(actor.Role, RoleOwner) {
		return newError(KindForbidden, "forbidden", "only an owner account key manages account keys")
	}
	return nil
}

// CreateKey creates an account key with a role and returns its plaintext,
// shown this once; only its SHA-256 is stored. It authenticates at once on
// this instance and within cache.refresh_interval on the others. Errors:
// KindForbidden (actor not an owner), KindInvalid (invalid_name,
// invalid_role, invalid_idempotency_key), KindConflict
// (too_many_account_keys, idempotency_key_reused), KindUnavailable.
func (s *Accounts) CreateKey(ctx context.Context, actor Actor, in NewAccountKeyRequest) (CreatedAccountKey, error) {
	const action = "account_key.create"
	if err := requireOwner(actor); err != nil {
		s.audit.Fail(actor, action, "", "", "forbidden")
		return CreatedAccountKey{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 || !utf8.ValidString(in.Name) {
		return CreatedAccountKey{}, newError(KindInvalid, "invalid_name", "name must be 1 to 100 characters")
	}
	if _, ok := roleRank[in.Role]; !ok {
		return CreatedAccountKey{}, newError(KindInvalid, "invalid_role", "role must be %q, %q or %q", RoleOwner, RoleAdmin, RoleViewer)
	}
	plain, rec := s.newKey(in.Name, in.Role, actor.ID)
	claim, err := s.idem.begin(ctx, actor, in.IdempotencyKey, action, fingerprint(action, "", in), storage.IdempotencyRecord{KeyID: rec.ID})
	if err != nil {
		return CreatedAccountKey{}, err
	}
	if claim != nil {
		rec.ID = claim.IDs().KeyID
	}
	if claim.done() {
		return s.replayKey(ctx, rec.ID)
	}
	stored, err := s.store.UpdateAccount(ctx, func(a *storage.Account) error {
		for _, k := range a.Keys {
			if k.ID == rec.ID {
				return errReplay
			}
		}
		if len(a.Keys) >= maxAccountKeys {
			return newError(KindConflict, "too_many_account_keys", "the account has %d keys: delete unused ones first", maxAccountKeys)
		}
		a.Keys = append(a.Keys, rec)
		return nil
	})
	claim.finish(ctx, err)
	if errors.Is(err, errReplay) {
		return s.replayKey(ctx, rec.ID)
	}
	if err != nil {
		err = storeError(err)
		s.audit.Fail(actor, action, "", "", AsError(err).Code)
		return CreatedAccountKey{}, err
	}
	s.set(stored)
	s.audit.Record(ctx, actor, action, rec.ID, "", "success", map[string]string{"role": rec.Role})
	return CreatedAccountKey{AccountKeyView: viewAccountKey(rec), Key: plain}, nil
}

func (s *Accounts) replayKey(ctx context.Context, id string) (CreatedAccountKey, error) {
	a, err := s.store.GetAccount(ctx)
	if err != nil {
		return CreatedAccountKey{}, storeError(err)
	}
	for _, k := range a.Keys {
		if k.ID == id {
			return CreatedAccountKey{AccountKeyView: viewAccountKey(k), Replay: newReplay()}, nil
		}
	}
	return CreatedAccountKey{}, newError(KindConflict, "idempotency_key_used",
		"the request with this Idempotency-Key completed earlier; its account key no longer exists")
}

// ListKeys returns every account key, masked, oldest first. Errors:
// KindForbidden (actor not an owner), KindUnavailable.
func (s *Accounts) ListKeys(ctx context.Context, actor Actor) ([]AccountKeyView, error) {
	if err := requireOwner(actor); err != nil {
		return nil, err
	}
	a, err := s.store.GetAccount(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]AccountKeyView, 0, len(a.Keys))
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
func (s *Accounts) DeleteKey(ctx context.Context, actor Actor, id string) error {
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
			return newError(KindNotFound, "account_key_not_found", "no account key %q", id)
		}
		role = a.Keys[i].Role
		if role == RoleOwner && owners <= 1 {
			return newError(KindConflict, "last_owner", "%s is the last owner key: create another owner key first", id)
		}
		a.Keys = append(a.Keys[:i:i], a.Keys[i+1:]...)
		return nil
	})
	if err != nil {
		err = storeError(err)
		s.audit.Fail(actor, action, id, "", AsError(err).Code)
		return err
	}
	s.set(stored)
	s.audit.Record(ctx, actor, action, id, "", "success", map[string]string{"role": role})
	return nil
}
