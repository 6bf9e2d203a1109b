package mongodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// importBatch is how many apps one insertMany carries: well under the 16 MB
// message limit for apps with a few secrets each.
const importBatch = 1000

// ImportApps stores many new apps at once, each with Version 1, in unordered
// batches of importBatch. It is for migrations and load tests (test/load
// seeds 100,000 apps with it), where InsertApp's two round trips per app
// are too slow; the rules of the app lifecycle are the caller's to respect.
// Each batch's updated_at is the database server's clock read just before
// the batch is sent (a second per-batch update would cost seconds on
// FerretDB), and each batch is announced in the change log (AppChangesSince)
// just before it is written, by one record with an empty AppID: the apps
// are new, so no cache holds them, and a cache only has to forget the ids
// it has seen missing. If some ids exist
// already, those apps are left as they were, the others are still stored,
// and the error wraps ErrDuplicate.
func (s *Store) ImportApps(ctx context.Context, apps []storage.App) error {
	col := s.db.Collection(colApps)
	var dupErr error
	for start := 0; start < len(apps); start += importBatch {
		batch := apps[start:min(start+importBatch, len(apps))]
		now, err := s.ServerTime(ctx)
		if err != nil {
			return fmt.Errorf("import apps: %w", err)
		}
		docs := make([]any, len(batch))
		for i, a := range batch {
			a.Version, a.UpdatedAt = 1, now
			docs[i] = a
		}
		// One record announces the batch, stamped like the apps. FerretDB
		// v1 reads every change record on each poll (it cannot push the
		// range on "at" down), so one record per app would make each poll
		// decode 100,000 of them until the sweep.
		if _, err := s.db.Collection(colAppChanges).InsertOne(ctx, storage.AppChange{ID: newChangeID(), At: now}); err != nil {
			return fmt.Errorf("import apps: record changes: %w", mapErr(err))
		}
		_, err = col.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		if err != nil {
			var bwe mongo.BulkWriteException
			if !mongo.IsDuplicateKeyError(err) || !errors.As(err, &bwe) {
				return fmt.Errorf("import apps: %w", mapErr(err))
			}
			dupErr = fmt.Errorf("import apps: %w", mapErr(err))
		}
	}
	return dupErr
}
