package storage

import (
	"context"
	"errors"
	"fmt"

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
// just before it is written, as every app write is. If some ids exist
// already, those apps are left as they were, the others are still stored,
// and the error wraps ErrDuplicate.
func (s *Store) ImportApps(ctx context.Context, apps []App) error {
	col := s.db.Collection(colApps)
	var dupErr error
	for start := 0; start < len(apps); start += importBatch {
		batch := apps[start:min(start+importBatch, len(apps))]
		now, err := s.ServerTime(ctx)
		if err != nil {
			return fmt.Errorf("import apps: %w", err)
		}
		docs := make([]any, len(batch))
		ids := make([]string, len(batch))
		for i, a := range batch {
			a.Version, a.UpdatedAt = 1, now
			docs[i], ids[i] = a, a.ID
		}
		// One insertMany announces the batch, stamped like the apps
		// (upserts with $currentDate would cost a look-up each).
		changes := make([]any, len(ids))
		for i, id := range ids {
			changes[i] = AppChange{ID: newChangeID(), AppID: id, At: now}
		}
		if _, err := s.db.Collection(colAppChanges).InsertMany(ctx, changes); err != nil {
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
