package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// errNotExpired aborts the take-over of a record that is still valid.
var errNotExpired = errors.New("idempotency record not expired")

// ClaimIdempotency stores rec unless a record with its id exists. It
// returns (rec, true) when rec was stored, or the existing unexpired record
// and false. A record whose Exp is at or before now counts as absent: rec
// takes its place through the compare-and-swap update, so two requests
// racing for an expired key still get one winner. The unique _id of the
// insert is what makes the first claim atomic.
func (s *Store) ClaimIdempotency(ctx context.Context, rec storage.IdempotencyRecord, now time.Time) (storage.IdempotencyRecord, bool, error) {
	rec.Version, rec.ExpTTL = 1, rec.Exp
	col := s.db.Collection(colIdempotency)
	_, err := col.InsertOne(ctx, rec)
	if err == nil {
		return rec, true, nil
	}
	if err = mapErr(err); !errors.Is(err, storage.ErrDuplicate) {
		return storage.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	var existing storage.IdempotencyRecord
	taken, err := casUpdate(ctx, s, colIdempotency, rec.ID, func(r *storage.IdempotencyRecord) *int64 { return &r.Version },
		func(r *storage.IdempotencyRecord) error {
			if r.Exp.After(now) {
				existing = *r
				return errNotExpired
			}
			v := r.Version
			*r = rec
			r.Version = v
			return nil
		}, nil)
	switch {
	case errors.Is(err, errNotExpired):
		return existing, false, nil
	case errors.Is(err, storage.ErrNotFound):
		// Swept between our insert and our read: claim again.
		return s.ClaimIdempotency(ctx, rec, now)
	case err != nil:
		return storage.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return taken, true, nil
}

// CompleteIdempotency marks the record done. Should the record have
// vanished meanwhile (swept, or released by a failed twin request), it is
// stored again, done, so that later retries still replay.
func (s *Store) CompleteIdempotency(ctx context.Context, rec storage.IdempotencyRecord) error {
	col := s.db.Collection(colIdempotency)
	res, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: rec.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}}}})
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", mapErr(err))
	}
	if res.MatchedCount == 1 {
		return nil
	}
	rec.Done = true
	if _, err := col.InsertOne(ctx, rec); err != nil && !errors.Is(mapErr(err), storage.ErrDuplicate) {
		return fmt.Errorf("complete idempotency key: %w", mapErr(err))
	}
	return nil
}

// ReleaseIdempotency deletes a record that is not done, claimed by a
// request that then failed and changed nothing, so that the store is as it
// was and the key can be used again.
func (s *Store) ReleaseIdempotency(ctx context.Context, id string) error {
	_, err := s.db.Collection(colIdempotency).DeleteOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "done", Value: false}})
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", mapErr(err))
	}
	return nil
}

// SweepIdempotency deletes the records expired at now and returns how
// many. Queries already ignore them; the sweep only reclaims space (FerretDB
// v1 has no TTL index).
func (s *Store) SweepIdempotency(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colIdempotency).DeleteMany(ctx,
		bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("sweep idempotency keys: %w", mapErr(err))
	}
	return res.DeletedCount, nil
}
