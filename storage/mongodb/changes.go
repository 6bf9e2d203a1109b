package mongodb

import (
	"context"
	"fmt"
	"time"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// recordAppChanges adds one change record per app id, stamped by the
// database server's clock, in one command. It is called before the write it
// announces, so that no write goes unannounced if the writer dies between
// the two; a poller that reads the record before the write lands reads it
// again within its overlap.
func (s *Store) recordAppChanges(ctx context.Context, appIDs ...string) error {
	models := make([]mongo.WriteModel, 0, len(appIDs))
	for _, id := range appIDs {
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: newChangeID()}}).
			SetUpdate(bson.D{
				{Key: "$set", Value: bson.D{{Key: "app_id", Value: id}}},
				{Key: "$currentDate", Value: bson.D{{Key: "at", Value: true}}},
			}).
			SetUpsert(true))
	}
	if _, err := s.db.Collection(colAppChanges).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
		return fmt.Errorf("record app change: %w", mapErr(err))
	}
	return nil
}

// AppChangesSince returns the change records stamped at or after since,
// oldest first, at most limit of them.
func (s *Store) AppChangesSince(ctx context.Context, since time.Time, limit int) ([]storage.AppChange, error) {
	cur, err := s.db.Collection(colAppChanges).Find(ctx,
		bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("app changes since: %w", mapErr(err))
	}
	var out []storage.AppChange
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("app changes since: %w", mapErr(err))
	}
	return out, nil
}

// SweepAppChanges deletes change records stamped before before and returns
// how many.
func (s *Store) SweepAppChanges(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.Collection(colAppChanges).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, fmt.Errorf("sweep app changes: %w", mapErr(err))
	}
	return res.DeletedCount, nil
}

func newChangeID() string {
	return bson.NewObjectID().Hex()
}
