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

// InsertApp stores a new app with Version 1. It returns ErrDuplicate if the
// id is taken.
func (s *Store) InsertApp(ctx context.Context, a storage.App) error {
	a.Version = 1
	if err := s.recordAppChanges(ctx, a.ID); err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	if err := s.insertStamped(ctx, colApps, a.ID, a); err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	return nil
}

// GetApp returns the app with that id, or ErrNotFound.
func (s *Store) GetApp(ctx context.Context, id string) (storage.App, error) {
	var a storage.App
	if err := s.db.Collection(colApps).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil {
		return storage.App{}, fmt.Errorf("get app: %w", mapErr(err))
	}
	return a, nil
}

// ListApps returns apps ordered by id, after f.After, at most f.Limit
// (default 100).
func (s *Store) ListApps(ctx context.Context, f storage.AppFilter) ([]storage.App, error) {
	filter := bson.D{}
	if f.After != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}})
	}
	if f.NamePrefix != "" {
		filter = append(filter, bson.E{Key: "name", Value: bson.D{
			{Key: "$gte", Value: f.NamePrefix},
			{Key: "$lt", Value: f.NamePrefix + "\uffff"},
		}})
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	cur, err := s.db.Collection(colApps).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", mapErr(err))
	}
	var out []storage.App
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list apps: %w", mapErr(err))
	}
	return out, nil
}

// CountApps returns how many apps are stored.
func (s *Store) CountApps(ctx context.Context) (int64, error) {
	n, err := s.db.Collection(colApps).EstimatedDocumentCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("count apps: %w", mapErr(err))
	}
	return n, nil
}

// UpdateApp loads the app, lets update change it and writes the result only
// if no other writer changed the app in between (compare-and-swap on
// Version), retrying a bounded number of times. If update returns an error,
// nothing is written and that error is returned. It returns the stored app,
// ErrNotFound, or ErrConflict after too many lost races.
func (s *Store) UpdateApp(ctx context.Context, id string, update func(*storage.App) error) (storage.App, error) {
	a, err := casUpdate(ctx, s, colApps, id, func(a *storage.App) *int64 { return &a.Version }, update,
		func(ctx context.Context) error { return s.recordAppChanges(ctx, id) })
	if err != nil {
		return storage.App{}, fmt.Errorf("update app %s: %w", id, err)
	}
	return a, nil
}

// ServerTime returns the database server's current time, the clock of every
// updated_at. It is how a cache picks its first change watermark.
func (s *Store) ServerTime(ctx context.Context) (time.Time, error) {
	var res struct {
		LocalTime time.Time `bson:"localTime"`
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&res); err != nil {
		return time.Time{}, fmt.Errorf("server time: %w", mapErr(err))
	}
	if res.LocalTime.IsZero() {
		return time.Now(), nil
	}
	return res.LocalTime, nil
}

// RecordSecretUse stores, for each secret, the later of its stored and the
// given last-used time, in one bulk write. It is called by a batching
// recorder, never per token.
func (s *Store) RecordSecretUse(ctx context.Context, uses []storage.SecretUsage) error {
	if len(uses) == 0 {
		return nil
	}
	models := make([]mongo.WriteModel, 0, len(uses))
	for _, u := range uses {
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: u.SecretID}}).
			SetUpdate(bson.D{
				{Key: "$max", Value: bson.D{{Key: "last_used_at", Value: u.LastUsedAt}}},
				{Key: "$set", Value: bson.D{{Key: "app_id", Value: u.AppID}}},
			}).
			SetUpsert(true))
	}
	if _, err := s.db.Collection(colSecretUsage).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
		return fmt.Errorf("record secret use: %w", mapErr(err))
	}
	return nil
}

// SecretUsage returns the last-used times of an app's secrets, by secret id.
func (s *Store) SecretUsage(ctx context.Context, appID string) (map[string]time.Time, error) {
	cur, err := s.db.Collection(colSecretUsage).Find(ctx, bson.D{{Key: "app_id", Value: appID}})
	if err != nil {
		return nil, fmt.Errorf("secret usage: %w", mapErr(err))
	}
	var rows []storage.SecretUsage
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("secret usage: %w", mapErr(err))
	}
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.SecretID] = r.LastUsedAt
	}
	return out, nil
}
