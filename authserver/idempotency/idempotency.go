package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
)

// TTL is how long an Idempotency-Key is remembered: a retry
// within it replays the first request's outcome; after it the key is free
// again.
const TTL = 24 * time.Hour

// idempotencySweepEvery is how often expired keys are deleted, on the
// injected clock.
const idempotencySweepEvery = 10 * time.Minute

// maxIdempotencyKeyLen bounds the Idempotency-Key header (printable ASCII).
const maxIdempotencyKeyLen = 255

// Store is what idempotent creates need of the database.
type Store interface {
	ClaimIdempotency(ctx context.Context, rec storage.IdempotencyRecord, now time.Time) (storage.IdempotencyRecord, bool, error)
	CompleteIdempotency(ctx context.Context, rec storage.IdempotencyRecord) error
	ReleaseIdempotency(ctx context.Context, id string) error
	SweepIdempotency(ctx context.Context, now time.Time) (int64, error)
}

// Idempotency makes create requests (apps, secrets, rotations, account
// keys) safe to retry: a request carrying an Idempotency-Key that its
// actor used before within TTL creates nothing and answers with
// the first request's resource, masked, and a Replay notice. The plaintext
// of a secret is never stored, not even for a replay, so a replay cannot
// show it again.
//
// How it stays exact without transactions: the first request claims the
// key with a unique-_id insert that also fixes the ids of the resources it
// will create. A retry that finds the claim done replays; one that finds it
// pending (the first is still running, or died) runs the same operation
// with the same ids, and each operation finds a resource with its id
// already present and replays instead of creating another.
type Idempotency struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// NewIdempotency returns the idempotency service.
func NewIdempotency(store Store, now func() time.Time, log *slog.Logger) *Idempotency {
	return &Idempotency{store: store, now: now, log: log}
}

// Replay marks the answer to a create request that repeated an earlier
// one (same actor, same Idempotency-Key, same request): the resource the
// first request created, masked. Its secret was shown once, in the first
// response, and is stored nowhere.
type Replay struct {
	// Code is "secret_already_issued".
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewReplay returns the notice of a replayed create.
func NewReplay() *Replay {
	return &Replay{
		Code: "secret_already_issued",
		Message: "this request repeats an earlier one with the same Idempotency-Key; its secret was shown once, " +
			"in the first response, and cannot be shown again (if it was lost, create or rotate a secret)",
	}
}

// ErrReplay aborts an update that finds its pre-assigned resource present:
// an earlier run of the same request created it.
var ErrReplay = errors.New("already created by an earlier run of this request")

// Claim is one request's hold on an Idempotency-Key. A nil claim (no
// key sent) does nothing.
type Claim struct {
	idem  *Idempotency
	rec   storage.IdempotencyRecord
	fresh bool // this request inserted the record
}

// validIdempotencyKey: 1 to 255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	return k != "" && len(k) <= maxIdempotencyKeyLen && printableASCII(k)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Fingerprint digests what makes two requests the same request: the
// operation op, its target (an app id, or "") and its input, as JSON; a
// SHA-256 digest, 32 bytes. It panics if input cannot be encoded as JSON,
// which plain request structs always can.
func Fingerprint(op, target string, input any) []byte {
	b, err := json.Marshal(input)
	if err != nil {
		panic("fingerprint: " + err.Error()) // inputs are plain structs
	}
	h := sha256.New()
	h.Write([]byte(op))
	h.Write([]byte{0})
	h.Write([]byte(target))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)
}

// Begin claims key for actor's request op with the given fingerprint;
// ids carries the ids the request would create. It returns nil when key
// is "" (no idempotency asked). The returned claim's record holds the ids
// to use: the given ones, or an earlier run's. Errors: KindInvalid for a
// malformed key, KindConflict "idempotency_key_reused" for a key used with
// another request, KindUnavailable.
func (i *Idempotency) Begin(ctx context.Context, actor authserver.Actor, key, op string, fp []byte, ids storage.IdempotencyRecord) (*Claim, error) {
	if key == "" {
		return nil, nil
	}
	if !validIdempotencyKey(key) {
		return nil, authserver.NewError(authserver.KindInvalid, "invalid_idempotency_key", "the Idempotency-Key header must be 1 to %d printable ASCII characters", maxIdempotencyKeyLen)
	}
	now := i.now().UTC().Truncate(time.Millisecond)
	kd := sha256.Sum256([]byte(key))
	rec := ids
	rec.ID = actor.ID + "/" + hex.EncodeToString(kd[:16])
	rec.Actor, rec.Operation, rec.Fingerprint = actor.ID, op, fp
	rec.CreatedAt, rec.Exp = now, now.Add(TTL)
	got, fresh, err := i.store.ClaimIdempotency(ctx, rec, now)
	if err != nil {
		return nil, authserver.StoreError(err)
	}
	if !fresh && (got.Operation != op || !credential.ConstantTimeEqual(got.Fingerprint, fp)) {
		return nil, authserver.NewError(authserver.KindConflict, "idempotency_key_reused", "this Idempotency-Key was used within the last %s for a different request", TTL)
	}
	return &Claim{idem: i, rec: got, fresh: fresh}, nil
}

// IDs returns the ids the request creates: those given to Begin, or an
// earlier run's (AppID, SecretID, KeyID).
func (c *Claim) IDs() storage.IdempotencyRecord { return c.rec }

// Done reports whether an earlier run of the request completed.
func (c *Claim) Done() bool { return c != nil && c.rec.Done }

// Finish records the outcome: success (err nil, or ErrReplay) marks the
// key done; a failure releases a key this request claimed, so that the
// store is left as it was. Bookkeeping failures are logged: the operation
// itself is already decided.
func (c *Claim) Finish(ctx context.Context, err error) {
	if c == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	switch {
	case err == nil || errors.Is(err, ErrReplay):
		if c.rec.Done {
			return
		}
		if e := c.idem.store.CompleteIdempotency(ctx, c.rec); e != nil {
			c.idem.log.Warn("idempotency key not marked done", "operation", c.rec.Operation, "err", e)
		}
	case c.fresh:
		if e := c.idem.store.ReleaseIdempotency(ctx, c.rec.ID); e != nil {
			c.idem.log.Warn("idempotency key not released", "operation", c.rec.Operation, "err", e)
		}
	}
}

// Sweep deletes the keys expired at the clock's now and returns how many.
func (i *Idempotency) Sweep(ctx context.Context) (int64, error) {
	return i.store.SweepIdempotency(ctx, i.now())
}

// Run sweeps expired keys every idempotencySweepEvery of the injected
// clock until ctx ends. Queries ignore expired keys whether or not they
// were swept.
func (i *Idempotency) Run(ctx context.Context) {
	periodic.OnClock(ctx, i.now, idempotencySweepEvery, func() {
		if n, err := i.Sweep(ctx); err != nil && ctx.Err() == nil {
			i.log.Warn("idempotency keys not swept", "err", err)
		} else if n > 0 {
			i.log.Debug("swept idempotency keys", "deleted", n)
		}
	})
}
