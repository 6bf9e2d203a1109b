package signingkeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/storage"
)

// errKeySetUnchanged aborts a key-set update that has nothing to write.
var errKeySetUnchanged = errors.New("key set unchanged")

// Schedule runs one pass of the rotation scheduler at m.now(): it promotes
// a next key whose time has come, removes retired keys whose retention is
// over, and publishes a new next key when a rotation is due within
// PublishAhead or the configured algorithm changed. Every instance runs it;
// the key set is written by one compare-and-swap, so instances racing make
// one transition, not two, and the losers load the winner's set. Key
// generation (slow for RSA) happens before the write, never inside it.
func (m *KeyManager) Schedule(ctx context.Context) error {
	now := m.now()
	p := m.cfg.policy()
	set := m.state.Load().set
	var fresh *storage.SigningKey
	if needsNextKey(set, now, p) {
		k, err := m.NewKey(p.Algorithm)
		if err != nil {
			return err
		}
		fresh = &k
	}
	dry := set
	dry.Keys = slices.Clone(set.Keys)
	if len(advanceKeySet(&dry, now, p, fresh)) > 0 {
		_, _, err := m.update(ctx, authserver.ActorScheduler, func(ks *storage.KeySet) ([]Event, error) {
			return advanceKeySet(ks, now, p, fresh), nil
		})
		if err != nil {
			return fmt.Errorf("advance signing keys: %w", err)
		}
	}
	m.checked.Store(&now)
	return nil
}

// CheckedAt is the clock reading of this instance's last completed
// scheduler pass (zero before the first): every transition due by then was
// written and is what this instance serves. An operator sees from it that
// the scheduler runs; tests wait on it after moving the clock.
func (m *KeyManager) CheckedAt() time.Time {
	if t := m.checked.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// update applies change to the stored key set through one compare-and-swap
// write (Store.UpdateKeySet), checks every invariant before writing,
// installs the result in this instance at once and audits each event under
// actor. change runs on a fresh copy on every attempt; when it reports no
// event nothing is written and the stored set (which another instance may
// have just changed) is loaded instead. Errors are *Error: change's own,
// KindConflict for an invariant the result would break or a write that
// kept losing, KindUnavailable for the database.
func (m *KeyManager) update(ctx context.Context, actor authserver.Actor, change func(*storage.KeySet) ([]Event, error)) (storage.KeySet, []Event, error) {
	var events []Event
	ks, err := m.store.UpdateKeySet(ctx, func(ks *storage.KeySet) error {
		ev, err := change(ks)
		if err != nil {
			return err
		}
		if len(ev) == 0 {
			return errKeySetUnchanged
		}
		if err := CheckKeySet(*ks); err != nil {
			return &authserver.Error{Kind: authserver.KindConflict, Code: "key_set_invariant", Message: "the change would break a key-set invariant; nothing was written", Err: err}
		}
		events = ev
		return nil
	})
	switch {
	case errors.Is(err, errKeySetUnchanged):
		if err := m.Reload(ctx); err != nil {
			return storage.KeySet{}, nil, authserver.StoreError(err)
		}
		return m.state.Load().set, nil, nil
	case err != nil:
		return storage.KeySet{}, nil, authserver.StoreError(err)
	}
	for _, e := range events {
		m.record(ctx, actor, e)
	}
	if err := m.apply(ks); err != nil {
		// Written, but this instance cannot load it (e.g. a private key
		// under a KEK it lacks): it keeps its last good set, and says so.
		return ks, events, fmt.Errorf("load the key set just written: %w", err)
	}
	return ks, events, nil
}

// record audits one transition; key material never reaches an event.
func (m *KeyManager) record(ctx context.Context, actor authserver.Actor, e Event) {
	m.log.Info("signing key transition", "action", e.Action, "kid", e.KID, "actor", actor.ID)
	if m.audit != nil {
		m.audit.Record(ctx, actor, e.Action, e.KID, "", "success", e.Detail)
	}
}

// KeyView is what the admin API shows of a signing key: kid,
// algorithm, state, the id of the KEK sealing it, and its life. It never
// holds private material, sealed or not. Times are RFC 3339; absent ones
// are omitted.
type KeyView struct {
	KID       string `json:"kid"`
	Algorithm string `json:"alg"`
	State     string `json:"state"`
	// Published: the key is in the JWKS (next, active, retired).
	Published   bool       `json:"published"`
	KEKID       string     `json:"kek_id"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	ActivateAt  *time.Time `json:"activate_at,omitempty"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	RemoveAt    *time.Time `json:"remove_at,omitempty"`
	DiscardedAt *time.Time `json:"discarded_at,omitempty"`
	// PriorState is what reactivation returns an inactive key to.
	PriorState string `json:"prior_state,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func viewKey(k storage.SigningKey) KeyView {
	v := KeyView{
		KID: k.KID, Algorithm: k.Algorithm, State: k.State, Published: k.State != storage.KeyInactive,
		KEKID: k.Private.KEKID, CreatedAt: k.CreatedAt.UTC(),
		PublishedAt: optTime(k.PublishedAt), ActivatedAt: optTime(k.ActivatedAt),
		RetiredAt: optTime(k.RetiredAt), RemoveAt: optTime(k.RemoveAt), DiscardedAt: optTime(k.DiscardedAt),
		PriorState: k.PriorState,
	}
	if k.State == storage.KeyNext || (k.State == storage.KeyInactive && k.PriorState == storage.KeyNext) {
		v.ActivateAt = optTime(k.ActivateAt)
	}
	if k.State != storage.KeyRetired && !(k.State == storage.KeyInactive && k.PriorState == storage.KeyRetired) {
		v.RemoveAt = nil
	}
	return v
}

func viewKeys(ks storage.KeySet) []KeyView {
	out := make([]KeyView, 0, len(ks.Keys))
	for _, k := range ks.Keys {
		out = append(out, viewKey(k))
	}
	return out
}

// Listing is the admin listing of the key set: every key (inactive ones
// included), the key-set version, the schedule in force on this instance
// (durations as Go strings, e.g. "720h0m0s") and when its scheduler last
// ran.
type Listing struct {
	Items          []KeyView  `json:"items"`
	Version        int64      `json:"version"`
	Algorithm      string     `json:"algorithm"`
	RotationPeriod string     `json:"rotation_period"`
	PublishAhead   string     `json:"publish_ahead"`
	Retention      string     `json:"retention"`
	CheckedAt      *time.Time `json:"scheduler_checked_at,omitempty"`
}

// ListKeys reads the key set from the database (and loads it here if it
// is newer). Errors: KindUnavailable.
func (m *KeyManager) ListKeys(ctx context.Context) (Listing, error) {
	ks, err := m.store.GetKeySet(ctx)
	if err != nil {
		return Listing{}, authserver.StoreError(err)
	}
	if err := m.apply(ks); err != nil {
		m.log.Warn("signing keys not loaded", "err", err)
	}
	return Listing{
		Items: viewKeys(ks), Version: ks.Version, Algorithm: m.cfg.Algorithm,
		RotationPeriod: m.cfg.RotationPeriod.String(), PublishAhead: m.cfg.PublishAhead.String(), Retention: m.cfg.Retention.String(),
		CheckedAt: optTime(m.CheckedAt()),
	}, nil
}

// RotateResult is the outcome of Rotate: the key that signs now, the next
// key and when it signs (absent after an immediate rotation), and every
// key.
type RotateResult struct {
	Immediate  bool       `json:"immediate"`
	ActiveKID  string     `json:"active_kid"`
	NextKID    string     `json:"next_kid,omitempty"`
	ActivateAt *time.Time `json:"activate_at,omitempty"`
	Items      []KeyView  `json:"items"`
}

// Rotate is a manual rotation by actor; see rotateKeySet for the two
// semantics. Scheduled (immediate false) it keeps the publish-ahead
// overlap and is idempotent: calling it again while a rotation is pending
// changes nothing. Immediate, a fresh key of the configured algorithm signs
// at once. Errors: KindConflict (concurrent_update when other writers kept
// winning), KindUnavailable.
func (m *KeyManager) Rotate(ctx context.Context, actor authserver.Actor, immediate bool) (RotateResult, error) {
	p := m.cfg.policy()
	var fresh *storage.SigningKey
	generate := func() error {
		k, err := m.NewKey(p.Algorithm)
		if err != nil {
			return err
		}
		fresh = &k
		return nil
	}
	if set := m.state.Load().set; immediate || indexOfState(&set, storage.KeyNext) < 0 {
		if err := generate(); err != nil {
			return RotateResult{}, err
		}
	}
	for {
		now := m.now()
		ks, _, err := m.update(ctx, actor, func(ks *storage.KeySet) ([]Event, error) {
			return rotateKeySet(ks, fresh, now, p, immediate)
		})
		if errors.Is(err, errNeedFreshKey) && fresh == nil {
			// The pending next key this instance saw is gone.
			if err := generate(); err != nil {
				return RotateResult{}, err
			}
			continue
		}
		if err != nil {
			return RotateResult{}, err
		}
		res := RotateResult{Immediate: immediate, Items: viewKeys(ks)}
		for _, k := range ks.Keys {
			switch k.State {
			case storage.KeyActive:
				res.ActiveKID = k.KID
			case storage.KeyNext:
				res.NextKID, res.ActivateAt = k.KID, optTime(k.ActivateAt)
			}
		}
		return res, nil
	}
}

// keyOp runs one operator transition on kid and returns the key's view
// afterwards.
func (m *KeyManager) keyOp(ctx context.Context, actor authserver.Actor, kid string, op func(*storage.KeySet, time.Time) ([]Event, error)) (KeyView, error) {
	now := m.now()
	ks, _, err := m.update(ctx, actor, func(ks *storage.KeySet) ([]Event, error) { return op(ks, now) })
	if err != nil {
		return KeyView{}, err
	}
	if i := indexOf(&ks, kid); i >= 0 {
		return viewKey(ks.Keys[i]), nil
	}
	return KeyView{KID: kid}, nil
}

// Discard makes key kid inactive (seed 002): it leaves this instance's
// JWKS at once and every other instance's within the reload interval;
// online checks (fosite's Validate/Decode) reject its tokens from then on,
// and offline verifiers once their cached JWKS expires (jwks_max_age).
// This is how a compromised key is pulled; the active key must first be
// replaced with Rotate(immediate). Errors: see discardKey; KindUnavailable.
func (m *KeyManager) Discard(ctx context.Context, actor authserver.Actor, kid string) (KeyView, error) {
	return m.keyOp(ctx, actor, kid, func(ks *storage.KeySet, now time.Time) ([]Event, error) {
		return discardKey(ks, kid, now)
	})
}

// Reactivate returns inactive key kid to the state it was discarded from
// (seed 002). Errors: see reactivateKey; KindUnavailable.
func (m *KeyManager) Reactivate(ctx context.Context, actor authserver.Actor, kid string) (KeyView, error) {
	p := m.cfg.policy()
	return m.keyOp(ctx, actor, kid, func(ks *storage.KeySet, now time.Time) ([]Event, error) {
		return reactivateKey(ks, kid, now, p)
	})
}

// Delete destroys inactive key kid, private part included; tokens it
// signed can never verify again (seed 000, manual expiration). Errors: see
// deleteKey; KindUnavailable.
func (m *KeyManager) Delete(ctx context.Context, actor authserver.Actor, kid string) error {
	_, err := m.keyOp(ctx, actor, kid, func(ks *storage.KeySet, _ time.Time) ([]Event, error) {
		return deleteKey(ks, kid)
	})
	return err
}

// KEKStatus says which key-encryption key seals the signing keys: the id
// of the one new values are sealed under, how many private keys each KEK id
// seals, and (after RotateKEK) how many were just re-sealed. Ids are
// KEKID's, which reveal nothing of a KEK.
type KEKStatus struct {
	CurrentKEKID string         `json:"current_kek_id"`
	SigningKeys  map[string]int `json:"signing_keys_by_kek"`
	Resealed     int            `json:"resealed"`
}

func (m *KeyManager) kekStatus(ks storage.KeySet, resealed int) KEKStatus {
	st := KEKStatus{CurrentKEKID: m.keyring.CurrentID(), SigningKeys: map[string]int{}, Resealed: resealed}
	for _, k := range ks.Keys {
		st.SigningKeys[k.Private.KEKID]++
	}
	return st
}

// KEKStatus reports which KEKs seal the stored signing keys. Errors:
// KindUnavailable.
func (m *KeyManager) KEKStatus(ctx context.Context) (KEKStatus, error) {
	ks, err := m.store.GetKeySet(ctx)
	if err != nil {
		return KEKStatus{}, authserver.StoreError(err)
	}
	return m.kekStatus(ks, 0), nil
}

// RotateKEK re-seals every private signing key under the current KEK
// (issue 3, item 7), in one compare-and-swap write, while the server keeps
// signing. The procedure: configure every instance with the new kek and the
// old one in kek_previous (a rolling restart), call RotateKEK once, then
// drop the old KEK from kek_previous. It is idempotent. Errors: KindConflict
// kek_unknown when a key is sealed under a KEK this instance lacks (nothing
// is written), KindUnavailable.
func (m *KeyManager) RotateKEK(ctx context.Context, actor authserver.Actor) (KEKStatus, error) {
	ks, events, err := m.update(ctx, actor, func(ks *storage.KeySet) ([]Event, error) {
		return resealKeys(ks, m.keyring)
	})
	if err != nil {
		return KEKStatus{}, err
	}
	return m.kekStatus(ks, len(events)), nil
}
