package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Revoked is one entry of the access-token denylist (RFC 7009): the token's
// jti, kept until the token's own exp, after which the token is dead anyway
// and the entry is swept.
type Revoked struct {
	// JTI is the revoked token's "jti" (RFC 7519 §4.1.7); unique.
	JTI string `bson:"_id"`
	// ClientID is the client the token was issued to.
	ClientID string `bson:"client_id"`
	// ExpiresAt is the token's "exp"; the entry is useless after it.
	ExpiresAt time.Time `bson:"exp"`
	// ExpTTL repeats ExpiresAt for the housekeeping TTL index on servers
	// that have one (EnsureIndexes); queries never rely on it.
	ExpTTL time.Time `bson:"exp_ttl"`
	// CreatedAt is set by the database server when the entry is written,
	// so that instances with skewed clocks agree on the order in which
	// they poll entries.
	CreatedAt time.Time `bson:"created_at"`
}

// RevokedCursor is a position in the denylist ordered by (created_at,
// _id): entries strictly after it are read next. The zero cursor is before
// every entry.
type RevokedCursor struct {
	CreatedAt time.Time
	JTI       string
}

// Revoke puts r on the denylist in one single-document write: an upsert
// keyed by the jti, so that revoking the same token twice, concurrently or
// not, leaves one entry (the unique _id decides). created_at comes from the
// database server's clock. It reports whether this call created the entry.
// Errors come from the database only; nothing is half-written.
func (s *Store) Revoke(ctx context.Context, r Revoked) (created bool, err error) {
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
		if errors.Is(err, ErrDuplicate) {
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
func (s *Store) RevokedAfter(ctx context.Context, c RevokedCursor, now time.Time, limit int) ([]Revoked, error) {
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
	var out []Revoked
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read revoked tokens: %w", mapErr(err))
	}
	return out, nil
}

// SweepRevoked deletes the denylist entries whose exp is at or before
// now: their tokens have expired. It returns how many it deleted.
func (s *Store) SweepRevoked(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colRevoked).DeleteMany(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("sweep revoked tokens: %w", mapErr(err))
	}
	return res.DeletedCount, nil
}
