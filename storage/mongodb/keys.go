package mongodb

import (
	"context"
	"fmt"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// GetKeySet returns the key set, or ErrNotFound before the first key exists.
func (s *Store) GetKeySet(ctx context.Context) (storage.KeySet, error) {
	var ks storage.KeySet
	if err := s.db.Collection(colSigningKeys).FindOne(ctx, bson.D{{Key: "_id", Value: storage.KeySetID}}).Decode(&ks); err != nil {
		return storage.KeySet{}, fmt.Errorf("get key set: %w", mapErr(err))
	}
	return ks, nil
}

// KeySetVersion returns only the key set's version, so that instances can
// poll for changes cheaply. It returns ErrNotFound before the first key.
func (s *Store) KeySetVersion(ctx context.Context) (int64, error) {
	var v struct {
		Version int64 `bson:"version"`
	}
	err := s.db.Collection(colSigningKeys).FindOne(ctx, bson.D{{Key: "_id", Value: storage.KeySetID}},
		options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&v)
	if err != nil {
		return 0, fmt.Errorf("key set version: %w", mapErr(err))
	}
	return v.Version, nil
}

// CreateKeySet stores the first key set with Version 1. It returns
// ErrDuplicate if another instance created it first.
func (s *Store) CreateKeySet(ctx context.Context, ks storage.KeySet) error {
	ks.ID, ks.Version = storage.KeySetID, 1
	if err := s.insertStamped(ctx, colSigningKeys, ks.ID, ks); err != nil {
		return fmt.Errorf("create key set: %w", err)
	}
	return nil
}

// UpdateKeySet is the compare-and-swap update of the key set: see
// UpdateApp for the contract.
func (s *Store) UpdateKeySet(ctx context.Context, update func(*storage.KeySet) error) (storage.KeySet, error) {
	ks, err := casUpdate(ctx, s, colSigningKeys, storage.KeySetID, func(k *storage.KeySet) *int64 { return &k.Version }, update, nil)
	if err != nil {
		return storage.KeySet{}, fmt.Errorf("update key set: %w", err)
	}
	return ks, nil
}
