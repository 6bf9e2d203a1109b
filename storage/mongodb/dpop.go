package mongodb

import (
	"context"
	"fmt"
	"time"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// ClaimDPoPProof records p unless a record with its id and an exp after
// now exists, in which case it returns ErrDuplicate: of concurrent claims
// of one id exactly one succeeds (unique _id insert). An expired record
// left by a sweep not yet run is replaced. It is one insert when the
// proof is new, which is every time but a replay.
func (s *Store) ClaimDPoPProof(ctx context.Context, p storage.DPoPProof, now time.Time) error {
	p.ExpTTL = p.Exp
	col := s.db.Collection(colDPoPJTI)
	for range 2 {
		_, err := col.InsertOne(ctx, p)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("record dpop proof: %w", mapErr(err))
		}
		// Remove the record only if it has expired; a live one means replay.
		res, err := col.DeleteOne(ctx, bson.D{{Key: "_id", Value: p.ID}, {Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
		if err != nil {
			return fmt.Errorf("record dpop proof: %w", mapErr(err))
		}
		if res.DeletedCount == 0 {
			// Either live, or another claimer removed the expired record
			// first and then inserted: both mean this claim lost.
			return fmt.Errorf("record dpop proof: %w", storage.ErrDuplicate)
		}
	}
	return fmt.Errorf("record dpop proof: %w", storage.ErrDuplicate)
}

// SweepDPoPProofs deletes the records whose exp is at or before now and
// returns how many. It is housekeeping: claims ignore expired records.
func (s *Store) SweepDPoPProofs(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colDPoPJTI).DeleteMany(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("sweep dpop proofs: %w", mapErr(err))
	}
	return res.DeletedCount, nil
}
