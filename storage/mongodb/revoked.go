package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Revoke puts r on the denylist in one single-document write: an upsert
// keyed by the jti, so that revoking the same token twice, concurrently or
// not, leaves one entry (the unique _id decides). created_at comes from the
// database server's clock. It reports whether this call created the entry.
// Errors come from the database only; nothing is half-written.
func (s *Store) Revoke(ctx context.Context, r storage.Revoked) (created bool, err error) {
	res, err := s.db.Collection(colRevoked).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: r.JTI}},
		bson.D{
			{Key: "$setOnInsert", Value: bson.D{
				{Key: "client_id", Value: r.ClientID},
				{Key: "exp", Value: r.ExpiresAt},
				{Key: "exp_ttl", Value: r.ExpiresAt},
			}},
			{Key: "$currentDate", Value: bson.D{{Key: "created_at", Value: true}}},
		},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		err = mapErr(err)
		if errors.Is(err, storage.ErrDuplicate) {
			// A concurrent upsert of the same jti inserted it first.
			return false, nil
		}
		return false, fmt.Errorf("revoke %s: %w", r.JTI, err)
	}
	return res.UpsertedCount == 1, nil
}

// RevokedAfter returns denylist entries after cursor c whose exp is after
// now, ordered by (created_at, _id), at most limit of them. Callers page
// by passing the last entry's cursor.
func (s *Store) RevokedAfter(ctx context.Context, c storage.RevokedCursor, now time.Time, limit int) ([]storage.Revoked, error) {
	filter := bson.D{
		{Key: "exp", Value: bson.D{{Key: "$gt", Value: now}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: c.CreatedAt}}}},
			bson.D{{Key: "created_at", Value: c.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: c.JTI}}}},
		}},
	}
	cur, err := s.db.Collection(colRevoked).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("read revoked tokens: %w", mapErr(err))
	}
	var out []storage.Revoked
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read revoked tokens: %w", mapErr(err))
	}
	return out, nil
}

// SweepRevoked deletes the denylist entries whose exp is at or before
// now: their tokens have expired. It returns how many it deleted.
func (s *Store) SweepRevoked(ctx context.Context, now time.Time) (int64, error) {
	n, err := sweepExpired(ctx, s.db.Collection(colRevoked), now)
	if err != nil {
		return 0, fmt.Errorf("sweep revoked tokens: %w", err)
	}
	return n, nil
}
