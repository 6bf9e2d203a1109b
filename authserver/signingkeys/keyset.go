package signingkeys

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/storage"
)

// The signing-key state machine (docs/architecture.md, "Signing-key
// rotation"). Every function here is pure: it changes the key set it is given
// and nothing else, so that it runs inside a compare-and-swap update of the
// stored key set and is re-run on a fresh copy when another instance wrote
// first. A refused transition returns an *Error and leaves the key set
// exactly as it was.

// MaxTokenLifetime is the longest lifetime any access token may have (the
// server default and every app override are capped at it). A retired key
// stays published at least this long, plus ClockSkewLeeway and the reload
// interval, so that no token it signed outlives it in the JWKS.
const MaxTokenLifetime = 24 * time.Hour

// ClockSkewLeeway is the clock difference between this server and a
// verifier (or between two instances) that the key schedule tolerates.
const ClockSkewLeeway = 5 * time.Minute

// Policy is the schedule of automatic rotation. Durations are
// time.Duration.
type Policy struct {
	// Algorithm is the configured algorithm of new keys; an active key of
	// another algorithm is rolled over like a due rotation.
	Algorithm string
	// RotationPeriod is how long a key signs before the next one takes
	// over; zero disables time-based rotation (manual rotation and an
	// algorithm change still roll).
	RotationPeriod time.Duration
	// PublishAhead is how long a next key is in the JWKS before it signs:
	// at least the JWKS max-age plus the reload interval, so that every
	// verifier that honours max-age knows it before the first token.
	PublishAhead time.Duration
	// Retention is how long a retired key stays in the JWKS after it
	// stopped signing: at least the longest token lifetime plus leeway.
	Retention time.Duration
}

// Event is one transition of one key, as the audit log records it:
// Action is "signing_key.<verb>", Detail holds states and times (RFC 3339),
// never key material.
type Event struct {
	Action string
	KID    string
	Detail map[string]string
}

// Audit actions of signing keys.
const (
	ActionKeyPublish    = "signing_key.publish"    // a next key entered the JWKS
	ActionKeyActivate   = "signing_key.activate"   // a key started signing
	ActionKeyRetire     = "signing_key.retire"     // a key stopped signing, still published
	ActionKeyRemove     = "signing_key.remove"     // a key left the JWKS by schedule
	ActionKeyReschedule = "signing_key.reschedule" // a next key's activation moved
	ActionKeyDiscard    = "signing_key.discard"    // a key was unpublished by an operator
	ActionKeyReactivate = "signing_key.reactivate" // a discarded key came back
	ActionKeyDelete     = "signing_key.delete"     // an inactive key was destroyed
	ActionKeyReseal     = "signing_key.reseal"     // a private key was re-encrypted under the current KEK
)

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// msTime is t as the database keeps it (UTC, millisecond precision), so
// that what is decided equals what is read back.
func msTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func indexOf(ks *storage.KeySet, kid string) int {
	return slices.IndexFunc(ks.Keys, func(k storage.SigningKey) bool { return k.KID == kid })
}

func indexOfState(ks *storage.KeySet, state string) int {
	return slices.IndexFunc(ks.Keys, func(k storage.SigningKey) bool { return k.State == state })
}

// CheckKeySet reports the first broken invariant of ks:
// every kid is unique and every state known; exactly one key is active
// (so the JWKS is never empty); at most one is next; at most one is
// inactive. Every write of the key set is checked with it first.
func CheckKeySet(ks storage.KeySet) error {
	seen := map[string]bool{}
	count := map[string]int{}
	for _, k := range ks.Keys {
		if k.KID == "" || seen[k.KID] {
			return fmt.Errorf("kid %q is empty or repeated", k.KID)
		}
		seen[k.KID] = true
		switch k.State {
		case storage.KeyNext, storage.KeyActive, storage.KeyRetired, storage.KeyInactive:
		default:
			return fmt.Errorf("key %s has unknown state %q", k.KID, k.State)
		}
		count[k.State]++
	}
	switch {
	case count[storage.KeyActive] != 1:
		return fmt.Errorf("%d active keys, want exactly 1", count[storage.KeyActive])
	case count[storage.KeyNext] > 1:
		return fmt.Errorf("%d next keys, want at most 1", count[storage.KeyNext])
	case count[storage.KeyInactive] > 1:
		return fmt.Errorf("%d inactive keys, want at most 1", count[storage.KeyInactive])
	}
	return nil
}

// needsNextKey reports whether the scheduler must publish a new next key
// now: none is pending, and either the active key's rotation is due within
// PublishAhead or it is of another algorithm than the configured one. A
// pending next key is never replaced, even of a stale algorithm: instances
// configured differently during a rolling change would otherwise keep
// replacing each other's next key; it is promoted and then rolled again.
func needsNextKey(ks storage.KeySet, now time.Time, p Policy) bool {
	if indexOfState(&ks, storage.KeyNext) >= 0 {
		return false
	}
	a := indexOfState(&ks, storage.KeyActive)
	if a < 0 {
		return false
	}
	active := ks.Keys[a]
	if active.Algorithm != p.Algorithm {
		return true
	}
	return p.RotationPeriod > 0 && !now.Before(active.ActivatedAt.Add(p.RotationPeriod-p.PublishAhead))
}

// advanceKeySet applies every transition due at now, in order: a next key
// whose activate_at has come is promoted (the active key retires with
// remove_at = now + Retention); retired keys past remove_at leave the set;
// then, if a next key is needed and fresh is not nil, fresh is published as
// the next key. It returns the events, none if nothing was due.
func advanceKeySet(ks *storage.KeySet, now time.Time, p Policy, fresh *storage.SigningKey) []Event {
	now = msTime(now)
	var events []Event
	if n := indexOfState(ks, storage.KeyNext); n >= 0 && !now.Before(ks.Keys[n].ActivateAt) {
		events = append(events, promote(ks, n, now, p)...)
	}
	kept := ks.Keys[:0:0]
	for _, k := range ks.Keys {
		if k.State == storage.KeyRetired && !now.Before(k.RemoveAt) {
			events = append(events, Event{Action: ActionKeyRemove, KID: k.KID, Detail: map[string]string{
				"from": storage.KeyRetired, "reason": "retention over", "retired_at": stamp(k.RetiredAt),
			}})
			continue
		}
		kept = append(kept, k)
	}
	ks.Keys = kept
	if fresh != nil && needsNextKey(*ks, now, p) {
		a := ks.Keys[indexOfState(ks, storage.KeyActive)]
		activateAt := now.Add(p.PublishAhead)
		if a.Algorithm == p.Algorithm && p.RotationPeriod > 0 {
			if due := a.ActivatedAt.Add(p.RotationPeriod); due.After(activateAt) {
				activateAt = due
			}
		}
		reason := "rotation due"
		if a.Algorithm != p.Algorithm {
			reason = "algorithm changed from " + a.Algorithm
		}
		events = append(events, publishNext(ks, *fresh, now, activateAt, reason))
	}
	return events
}

// publishNext appends key as the next key, in the JWKS from now and
// signing from activateAt.
func publishNext(ks *storage.KeySet, key storage.SigningKey, now, activateAt time.Time, reason string) Event {
	key.State, key.PublishedAt, key.ActivateAt = storage.KeyNext, now, msTime(activateAt)
	ks.Keys = append(ks.Keys, key)
	return Event{Action: ActionKeyPublish, KID: key.KID, Detail: map[string]string{
		"to": storage.KeyNext, "alg": key.Algorithm, "activate_at": stamp(key.ActivateAt), "reason": reason,
	}}
}

// promote makes ks.Keys[i] the active key and retires the active one.
func promote(ks *storage.KeySet, i int, now time.Time, p Policy) []Event {
	var events []Event
	if a := indexOfState(ks, storage.KeyActive); a >= 0 {
		old := &ks.Keys[a]
		old.State, old.RetiredAt, old.RemoveAt = storage.KeyRetired, now, now.Add(p.Retention)
		events = append(events, Event{Action: ActionKeyRetire, KID: old.KID, Detail: map[string]string{
			"from": storage.KeyActive, "to": storage.KeyRetired, "remove_at": stamp(old.RemoveAt),
		}})
	}
	k := &ks.Keys[i]
	from := k.State
	k.State, k.ActivatedAt = storage.KeyActive, now
	return append(events, Event{Action: ActionKeyActivate, KID: k.KID, Detail: map[string]string{
		"from": from, "to": storage.KeyActive, "alg": k.Algorithm,
	}})
}

// errNeedFreshKey tells the caller of rotateKeySet to generate a key and
// run it again: the stored set has no next key to hasten.
var errNeedFreshKey = errors.New("a fresh key is needed")

// rotateKeySet is a manual rotation.
//
// Scheduled (immediate false), the overlap is kept: a pending next key is
// promoted as soon as it has been published for PublishAhead (at once if it
// has been), and with no pending key fresh is published to sign after
// PublishAhead. Verifiers that honour the JWKS max-age never see an
// unknown kid.
//
// Immediate (after a compromise), fresh signs at once and the active key
// retires (still published, so that its tokens keep verifying until
// discarded); a pending next key, which has signed nothing, is withdrawn.
// Verifiers see an unknown kid and must refetch the JWKS, which
// RFC-conforming ones do; to also reject the old key's tokens, discard it.
//
// fresh may be nil for a scheduled rotation; if the set turns out to need
// one, errNeedFreshKey is returned and nothing changes.
func rotateKeySet(ks *storage.KeySet, fresh *storage.SigningKey, now time.Time, p Policy, immediate bool) ([]Event, error) {
	now = msTime(now)
	n := indexOfState(ks, storage.KeyNext)
	if immediate {
		if fresh == nil {
			return nil, errNeedFreshKey
		}
		var events []Event
		if n >= 0 {
			events = append(events, Event{Action: ActionKeyRemove, KID: ks.Keys[n].KID, Detail: map[string]string{
				"from": storage.KeyNext, "reason": "superseded by an immediate rotation",
			}})
			ks.Keys = slices.Delete(slices.Clone(ks.Keys), n, n+1)
		}
		key := *fresh
		key.State, key.PublishedAt, key.ActivateAt = storage.KeyNext, now, now
		ks.Keys = append(ks.Keys, key)
		events = append(events, Event{Action: ActionKeyPublish, KID: key.KID, Detail: map[string]string{
			"to": storage.KeyNext, "alg": key.Algorithm, "activate_at": stamp(now), "reason": "immediate rotation",
		}})
		return append(events, promote(ks, len(ks.Keys)-1, now, p)...), nil
	}
	if n < 0 {
		if fresh == nil {
			return nil, errNeedFreshKey
		}
		return []Event{publishNext(ks, *fresh, now, now.Add(p.PublishAhead), "manual rotation")}, nil
	}
	next := &ks.Keys[n]
	earliest := next.PublishedAt.Add(p.PublishAhead)
	if !now.Before(earliest) {
		return promote(ks, n, now, p), nil
	}
	if next.ActivateAt.After(earliest) {
		from := next.ActivateAt
		next.ActivateAt = earliest
		return []Event{{Action: ActionKeyReschedule, KID: next.KID, Detail: map[string]string{
			"from_activate_at": stamp(from), "activate_at": stamp(earliest), "reason": "manual rotation",
		}}}, nil
	}
	return nil, nil // already as early as the overlap allows
}

// discardKey makes a next or retired key inactive: out of the JWKS at
// once, its tokens rejected by every online check (docs/credentials.md,
// "Expiry").
// Refused: an unknown kid (key_not_found), the active key (key_active:
// rotate immediately first), a key already inactive (key_inactive), or a
// second inactive key (inactive_key_exists).
func discardKey(ks *storage.KeySet, kid string, now time.Time) ([]Event, error) {
	i := indexOf(ks, kid)
	if i < 0 {
		return nil, authserver.NewError(authserver.KindNotFound, "key_not_found", "no signing key has kid %q", kid)
	}
	k := &ks.Keys[i]
	switch k.State {
	case storage.KeyActive:
		return nil, authserver.NewError(authserver.KindConflict, "key_active",
			"key %s is the active key and signs every new token; rotate immediately first (keys rotate --immediate), then discard it", kid)
	case storage.KeyInactive:
		return nil, authserver.NewError(authserver.KindConflict, "key_inactive", "key %s is inactive already", kid)
	}
	if j := indexOfState(ks, storage.KeyInactive); j >= 0 {
		return nil, authserver.NewError(authserver.KindConflict, "inactive_key_exists",
			"key %s is inactive already and at most one key may be; delete or reactivate it first", ks.Keys[j].KID)
	}
	from := k.State
	k.PriorState, k.State, k.DiscardedAt = from, storage.KeyInactive, msTime(now)
	return []Event{{Action: ActionKeyDiscard, KID: kid, Detail: map[string]string{"from": from, "to": storage.KeyInactive}}}, nil
}

// reactivateKey brings an inactive key back to the state it was discarded
// from (next or retired). Refused: an unknown kid
// (key_not_found), a key that is not inactive (key_not_inactive), a retired
// key whose retention is over (key_expired: every token it signed has
// expired; delete it), or a former next key while another next key is
// pending (next_key_exists).
func reactivateKey(ks *storage.KeySet, kid string, now time.Time, p Policy) ([]Event, error) {
	now = msTime(now)
	i := indexOf(ks, kid)
	if i < 0 {
		return nil, authserver.NewError(authserver.KindNotFound, "key_not_found", "no signing key has kid %q", kid)
	}
	k := &ks.Keys[i]
	if k.State != storage.KeyInactive {
		return nil, authserver.NewError(authserver.KindConflict, "key_not_inactive", "key %s is %s; only an inactive key can be reactivated", kid, k.State)
	}
	to := k.PriorState
	switch to {
	case storage.KeyNext:
		if j := indexOfState(ks, storage.KeyNext); j >= 0 {
			return nil, authserver.NewError(authserver.KindConflict, "next_key_exists",
				"key %s is the next key now; key %s cannot be next as well (delete it, or discard %s first)", ks.Keys[j].KID, kid, ks.Keys[j].KID)
		}
	default:
		// A discarded key signed at most until it retired; anything else
		// returns as retired.
		to = storage.KeyRetired
		if !k.RemoveAt.IsZero() && !now.Before(k.RemoveAt) {
			return nil, authserver.NewError(authserver.KindConflict, "key_expired",
				"every token key %s signed has expired (its retention ended %s); delete it instead", kid, stamp(k.RemoveAt))
		}
	}
	k.State, k.PriorState, k.DiscardedAt = to, "", time.Time{}
	detail := map[string]string{"from": storage.KeyInactive, "to": to}
	if to == storage.KeyNext {
		// It was out of the JWKS meanwhile: verifiers need the whole
		// overlap again before it signs.
		k.PublishedAt = now
		if earliest := now.Add(p.PublishAhead); k.ActivateAt.Before(earliest) {
			k.ActivateAt = earliest
		}
		detail["activate_at"] = stamp(k.ActivateAt)
	}
	return []Event{{Action: ActionKeyReactivate, KID: kid, Detail: detail}}, nil
}

// deleteKey destroys an inactive key, private part included
// (docs/credentials.md, "Expiry"). Refused: an unknown kid (key_not_found), any key that is not
// inactive (key_not_inactive): discard it first.
func deleteKey(ks *storage.KeySet, kid string) ([]Event, error) {
	i := indexOf(ks, kid)
	if i < 0 {
		return nil, authserver.NewError(authserver.KindNotFound, "key_not_found", "no signing key has kid %q", kid)
	}
	if st := ks.Keys[i].State; st != storage.KeyInactive {
		return nil, authserver.NewError(authserver.KindConflict, "key_not_inactive", "key %s is %s; only an inactive key can be deleted (discard it first)", kid, st)
	}
	ks.Keys = slices.Delete(slices.Clone(ks.Keys), i, i+1)
	return []Event{{Action: ActionKeyDelete, KID: kid, Detail: map[string]string{"from": storage.KeyInactive}}}, nil
}

// resealKeys re-encrypts under the keyring's current KEK every private key
// sealed under another one. A key sealed under a KEK the
// keyring lacks is refused (kek_unknown) and nothing changes.
func resealKeys(ks *storage.KeySet, keyring *kek.Keyring) ([]Event, error) {
	cur := keyring.CurrentID()
	keys := slices.Clone(ks.Keys)
	var events []Event
	for i, k := range keys {
		if k.Private.KEKID == cur {
			continue
		}
		der, err := keyring.Open(k.Private, []byte(k.KID))
		if err != nil {
			return nil, &authserver.Error{Kind: authserver.KindConflict, Code: "kek_unknown", Err: err, Message: fmt.Sprintf(
				"the private part of key %s cannot be opened with the configured kek or kek_previous (it names KEK %s); configure that KEK in kek_previous first",
				k.KID, k.Private.KEKID)}
		}
		keys[i].Private = keyring.Seal(der, []byte(k.KID))
		clear(der)
		events = append(events, Event{Action: ActionKeyReseal, KID: k.KID, Detail: map[string]string{"from_kek": k.Private.KEKID, "to_kek": cur}})
	}
	ks.Keys = keys
	return events, nil
}
