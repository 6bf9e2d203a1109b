package storage

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// AppChange records that an app was written: the change log that caches on
// every instance poll. It is kept apart from the apps so that a poll reads
// only recent changes, whatever the number of apps (FerretDB v1 cannot push
// a range query on apps.updated_at down to an index: polling the apps
// themselves read all 100,000 of them every interval).
type AppChange struct {
	ID string `bson:"_id"`
	// AppID is the app written, or "" for a batch of ImportApps: new
	// apps, not listed, so that an import of 100,000 apps adds 100 records
	// for every poll to read rather than 100,000.
	AppID string `bson:"app_id"`
	// At is the database server's clock when the change was recorded,
	// just before the app itself was written.
	At time.Time `bson:"at"`
}

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
func (s *Store) AppChangesSince(ctx context.Context, since time.Time, limit int) ([]AppChange, error) {
	cur, err := s.db.Collection(colAppChanges).Find(ctx,
		bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("app changes since: %w", mapErr(err))
	}
	var out []AppChange
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
