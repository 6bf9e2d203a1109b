package mongodb

import (
	"context"
	"fmt"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// AppendAudit stores one audit event. e.ID must be unique and sort by time
// (the caller uses a time-ordered id).
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if _, err := s.db.Collection(colAudit).InsertOne(ctx, e); err != nil {
		return fmt.Errorf("append audit event: %w", mapErr(err))
	}
	return nil
}

// ListAudit returns events matching f, newest first, at most f.Limit
// (default 100).
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	filter := bson.D{}
	if f.AppID != "" {
		filter = append(filter, bson.E{Key: "app_id", Value: f.AppID})
	}
	if f.Actor != "" {
		filter = append(filter, bson.E{Key: "actor", Value: f.Actor})
	}
	if f.Action != "" {
		filter = append(filter, bson.E{Key: "action", Value: f.Action})
	}
	if f.Before != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: f.Before}}})
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	cur, err := s.db.Collection(colAudit).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", mapErr(err))
	}
	var out []storage.AuditEvent
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list audit events: %w", mapErr(err))
	}
	return out, nil
}
