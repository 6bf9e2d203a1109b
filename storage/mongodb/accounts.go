package mongodb

import (
	"context"
	"fmt"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// GetAccount returns the account, or ErrNotFound before the first start.
func (s *Store) GetAccount(ctx context.Context) (storage.Account, error) {
	var a storage.Account
	if err := s.db.Collection(colAccounts).FindOne(ctx, bson.D{{Key: "_id", Value: storage.AccountID}}).Decode(&a); err != nil {
		return storage.Account{}, fmt.Errorf("get account: %w", mapErr(err))
	}
	return a, nil
}

// AccountVersion returns only the account's version, for cheap polling.
func (s *Store) AccountVersion(ctx context.Context) (int64, error) {
	var v struct {
		Version int64 `bson:"version"`
	}
	err := s.db.Collection(colAccounts).FindOne(ctx, bson.D{{Key: "_id", Value: storage.AccountID}},
		options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&v)
	if err != nil {
		return 0, fmt.Errorf("account version: %w", mapErr(err))
	}
	return v.Version, nil
}

// CreateAccount stores the account with Version 1. It returns ErrDuplicate
// if it exists: only the first instance to start bootstraps it.
func (s *Store) CreateAccount(ctx context.Context, a storage.Account) error {
	a.ID, a.Version = storage.AccountID, 1
	if err := s.insertStamped(ctx, colAccounts, a.ID, a); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

// UpdateAccount is the compare-and-swap update of the account: see
// UpdateApp for the contract.
func (s *Store) UpdateAccount(ctx context.Context, update func(*storage.Account) error) (storage.Account, error) {
	a, err := casUpdate(ctx, s, colAccounts, storage.AccountID, func(a *storage.Account) *int64 { return &a.Version }, update, nil)
	if err != nil {
		return storage.Account{}, fmt.Errorf("update account: %w", err)
	}
	return a, nil
}
