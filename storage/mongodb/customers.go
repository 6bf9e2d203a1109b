package mongodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// InsertCustomer stores a new test user. It returns ErrDuplicate when the
// app has a user with that username (or the id is taken).
func (s *Store) InsertCustomer(ctx context.Context, c storage.Customer) error {
	if _, err := s.db.Collection(colCustomers).InsertOne(ctx, c); err != nil {
		return fmt.Errorf("insert customer: %w", mapErr(err))
	}
	return nil
}

// GetCustomer returns the test user of appID with username, or ErrNotFound.
func (s *Store) GetCustomer(ctx context.Context, appID, username string) (storage.Customer, error) {
	return s.findCustomer(ctx, bson.D{{Key: "app_id", Value: appID}, {Key: "username", Value: username}})
}

// GetCustomerBySubject returns the test user of appID whose opaque
// identifier is subject, or ErrNotFound. A subject of another app never
// matches: the app is part of the query.
func (s *Store) GetCustomerBySubject(ctx context.Context, appID, subject string) (storage.Customer, error) {
	return s.findCustomer(ctx, bson.D{{Key: "app_id", Value: appID}, {Key: "subject", Value: subject}})
}

func (s *Store) findCustomer(ctx context.Context, filter bson.D) (storage.Customer, error) {
	var c storage.Customer
	if err := s.db.Collection(colCustomers).FindOne(ctx, filter).Decode(&c); err != nil {
		return storage.Customer{}, fmt.Errorf("get customer: %w", mapErr(err))
	}
	return c, nil
}

// ListCustomers returns the test users of p.AppID ordered by username,
// after p.After, at most p.Limit (default 100).
func (s *Store) ListCustomers(ctx context.Context, p storage.CustomerPage) ([]storage.Customer, error) {
	filter := bson.D{{Key: "app_id", Value: p.AppID}}
	if p.After != "" {
		filter = append(filter, bson.E{Key: "username", Value: bson.D{{Key: "$gt", Value: p.After}}})
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	cur, err := s.db.Collection(colCustomers).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "username", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", mapErr(err))
	}
	var out []storage.Customer
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list customers: %w", mapErr(err))
	}
	return out, nil
}

// DeleteCustomer removes the test user of appID with username. It returns
// ErrNotFound if there is none.
func (s *Store) DeleteCustomer(ctx context.Context, appID, username string) error {
	res, err := s.db.Collection(colCustomers).DeleteOne(ctx, bson.D{{Key: "app_id", Value: appID}, {Key: "username", Value: username}})
	if err != nil {
		return fmt.Errorf("delete customer: %w", mapErr(err))
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete customer: %w", storage.ErrNotFound)
	}
	return nil
}

// AppAllowsAnyOrigin reports whether some enabled app lists origin among
// its browser origins. CORS preflights, which carry no credential, are
// answered by it.
//
// A find with a limit rather than a count: FerretDB answers counts
// through an aggregation that reads the whole collection.
func (s *Store) AppAllowsAnyOrigin(ctx context.Context, origin string) (bool, error) {
	err := s.db.Collection(colApps).FindOne(ctx,
		bson.D{{Key: "origins", Value: origin}, {Key: "enabled", Value: true}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("find apps by origin: %w", mapErr(err))
	}
	return true, nil
}
