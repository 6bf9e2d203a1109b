package signingkeys

import (
	"time"

	"github.com/authserver/authserver/storage"
)

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

// KEKStatus says which key-encryption key seals the signing keys: the id
// of the one new values are sealed under, how many private keys each KEK id
// seals, and (after RotateKEK) how many were just re-sealed. Ids are
// kek.ID's, which reveal nothing of a KEK.
type KEKStatus struct {
	CurrentKEKID string         `json:"current_kek_id"`
	SigningKeys  map[string]int `json:"signing_keys_by_kek"`
	Resealed     int            `json:"resealed"`
}
