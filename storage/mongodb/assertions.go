package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// AssertionJTISeen reports whether id is recorded with an exp after now.
//
// It is a find led by _id, not a count: FerretDB answers counts through
// an aggregation that scans the collection, a find by _id from its index.
func (s *Store) AssertionJTISeen(ctx context.Context, id string, now time.Time) (bool, error) {
	var rec storage.AssertionJTI
	err := s.db.Collection(colAssertionJTI).FindOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "exp", Value: bson.D{{Key: "$gt", Value: now}}}}).Decode(&rec)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up assertion jti: %w", mapErr(err))
	}
	return true, nil
}

// ClaimAssertionJTI records r unless a record with its id and an exp after
// now exists, in which case it returns ErrDuplicate: of concurrent claims
// of one id exactly one succeeds (unique _id insert). An expired record
// left by a sweep not yet run is replaced.
func (s *Store) ClaimAssertionJTI(ctx context.Context, r storage.AssertionJTI, now time.Time) error {
	r.ExpTTL = r.Exp
	if err := claim(ctx, s.db.Collection(colAssertionJTI), r.ID, r, now); err != nil {
		return fmt.Errorf("record assertion jti: %w", err)
	}
	return nil
}

// SweepAssertionJTIs deletes the records whose exp is at or before now and
// returns how many. It is housekeeping: queries ignore expired records.
func (s *Store) SweepAssertionJTIs(ctx context.Context, now time.Time) (int64, error) {
	n, err := sweepExpired(ctx, s.db.Collection(colAssertionJTI), now)
	if err != nil {
		return 0, fmt.Errorf("sweep assertion jtis: %w", err)
	}
	return n, nil
}

// claim inserts doc, whose _id is id, unless a record with that id and an
// exp after now exists: then it returns storage.ErrDuplicate. Of
// concurrent claims of one id exactly one succeeds (the unique _id); an
// expired record is removed and the insert tried once more. The one
// mechanism behind every replay record (assertion jtis, DPoP proofs).
func claim(ctx context.Context, col *mongo.Collection, id string, doc any, now time.Time) error {
	for range 2 {
		_, err := col.InsertOne(ctx, doc)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return mapErr(err)
		}
		// Remove the record only if it has expired; a live one means replay.
		res, err := col.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
		if err != nil {
			return mapErr(err)
		}
		if res.DeletedCount == 0 {
			// Either live, or another claimer removed the expired record
			// first and then inserted: both mean this claim lost.
			return storage.ErrDuplicate
		}
	}
	return storage.ErrDuplicate
}

// sweepExpired deletes the records of col whose exp is at or before now
// and returns how many.
func sweepExpired(ctx context.Context, col *mongo.Collection, now time.Time) (int64, error) {
	res, err := col.DeleteMany(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, mapErr(err)
	}
	return res.DeletedCount, nil
}
