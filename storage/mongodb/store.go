package mongodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"

	"github.com/authserver/authserver/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var _ storage.Store = (*Store)(nil)

// maxCASAttempts bounds the load-decide-write loop of an update; each
// losing attempt means another writer succeeded.
const maxCASAttempts = 8

// Collection names.
const (
	colApps         = "apps"
	colSecretUsage  = "secret_usage"
	colSigningKeys  = "signing_keys"
	colAccounts     = "accounts"
	colAudit        = "audit"
	colRevoked      = "revoked"
	colAssertionJTI = "assertion_jti"
	colDPoPJTI      = "dpop_jti"
	colCustomers    = "customers"
	colIdempotency  = "idempotency"
	colWriteClaims  = "write_claims"
	colAppChanges   = "app_changes"
)

// Options configure Open.
type Options struct {
	// URI is a MongoDB connection string (mongodb:// or mongodb+srv://).
	URI string
	// Database is the database name; default "authserver".
	Database string
	// Timeout bounds server selection and each operation; default 5s.
	Timeout time.Duration
	// Monitor, if set, observes every command sent (tests count writes).
	Monitor *Monitor
}

// Store is the MongoDB implementation of storage.Store, on
// go.mongodb.org/mongo-driver/v2. It is safe for concurrent use.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	timeout time.Duration
}

// Open connects to MongoDB and returns a Store. It does not create indexes;
// call EnsureIndexes once at start.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Database == "" {
		o.Database = "authserver"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	co := options.Client().ApplyURI(o.URI).
		SetServerSelectionTimeout(o.Timeout).
		SetConnectTimeout(o.Timeout).
		SetTimeout(o.Timeout)
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor.commandMonitor())
		co.SetServerMonitor(o.Monitor.serverMonitor())
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	return &Store{client: client, db: client.Database(o.Database), timeout: o.Timeout}, nil
}

// Close disconnects from the database.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the database answers; it is the readiness probe.
func (s *Store) Ping(ctx context.Context) error {
	return s.client.Ping(ctx, nil)
}

// EnsureIndexes creates the indexes every query relies on. It is
// idempotent. Unique indexes carry the uniqueness rules; TTL indexes are only
// housekeeping and are skipped where the server refuses them (FerretDB v1),
// since expiry is enforced by queries and Sweep.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	idx := []struct {
		col   string
		model mongo.IndexModel
	}{
		{colApps, mongo.IndexModel{Keys: bson.D{{Key: "updated_at", Value: 1}}}},
		{colApps, mongo.IndexModel{Keys: bson.D{{Key: "name", Value: 1}}}},
		{colSecretUsage, mongo.IndexModel{Keys: bson.D{{Key: "app_id", Value: 1}}}},
		{colAudit, mongo.IndexModel{Keys: bson.D{{Key: "app_id", Value: 1}, {Key: "_id", Value: -1}}}},
		{colAudit, mongo.IndexModel{Keys: bson.D{{Key: "time", Value: 1}}}},
		{colRevoked, mongo.IndexModel{Keys: bson.D{{Key: "created_at", Value: 1}}}},
		{colRevoked, mongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}}},
		{colAssertionJTI, mongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}}},
		{colDPoPJTI, mongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}}},
		{colCustomers, mongo.IndexModel{
			Keys:    bson.D{{Key: "app_id", Value: 1}, {Key: "username", Value: 1}},
			Options: options.Index().SetUnique(true),
		}},
		{colCustomers, mongo.IndexModel{Keys: bson.D{{Key: "app_id", Value: 1}, {Key: "subject", Value: 1}}}},
		{colApps, mongo.IndexModel{Keys: bson.D{{Key: "origins", Value: 1}}}},
		{colIdempotency, mongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}}},
		{colWriteClaims, mongo.IndexModel{Keys: bson.D{{Key: "created_at", Value: 1}}}},
		{colAppChanges, mongo.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}}},
	}
	for _, i := range idx {
		if _, err := s.db.Collection(i.col).Indexes().CreateOne(ctx, i.model); err != nil {
			return fmt.Errorf("create index on %s: %w", i.col, err)
		}
	}
	// Housekeeping TTL indexes where the server has them.
	for _, col := range []string{colRevoked, colAssertionJTI, colDPoPJTI, colIdempotency} {
		m := mongo.IndexModel{
			Keys:    bson.D{{Key: "exp_ttl", Value: 1}},
			Options: options.Index().SetExpireAfterSeconds(0),
		}
		if _, err := s.db.Collection(col).Indexes().CreateOne(ctx, m); err != nil && !isNotImplemented(err) {
			return fmt.Errorf("create ttl index on %s: %w", col, err)
		}
	}
	return nil
}

func isNotImplemented(err error) bool {
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return ce.Code == 238 || ce.Name == "NotImplemented"
	}
	return false
}

// mapErr turns driver errors into the Store's sentinels.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return storage.ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %w", storage.ErrDuplicate, err)
	default:
		return err
	}
}

// claimTimeout is how long a write claim may stay unapplied before another
// writer rolls it forward: longer than any plausible single write.
const claimTimeout = 10 * time.Second

// writeClaim is the record that makes an update atomic. FerretDB v1 applies
// an update filter by reading and then writing the document, so a version
// precondition in the filter does not stop two writers that read the same
// version. Inserting a claim whose _id names the new version does: the
// unique _id lets exactly one writer have each version, on MongoDB and
// FerretDB alike. The claim carries the new document so that, should its
// writer die between claim and write, the next writer applies it.
type writeClaim struct {
	ID        string    `bson:"_id"` // collection/id/version
	CreatedAt time.Time `bson:"created_at"`
	Body      bson.Raw  `bson:"body"`
}

// casUpdate loads the document with id, lets update change it and writes
// the result as version+1 only if no other writer has taken version+1,
// retrying up to maxCASAttempts times. An error from update aborts with
// nothing written.
// beforeWrite, if not nil, runs right before the document is written (by
// this writer or a roll-forward); an error from it aborts the write.
func casUpdate[T any](ctx context.Context, s *Store, col, id string, version func(*T) *int64, update func(*T) error, beforeWrite func(context.Context) error) (T, error) {
	var zero T
	claims := s.db.Collection(colWriteClaims)
	keys := fieldKeys(reflect.TypeFor[T]())
	for attempt := range maxCASAttempts {
		var doc T
		if err := s.db.Collection(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
			return zero, mapErr(err)
		}
		old := *version(&doc)
		if err := update(&doc); err != nil {
			return zero, err
		}
		*version(&doc) = old + 1
		body, err := bson.Marshal(doc)
		if err != nil {
			return zero, fmt.Errorf("encode %s: %w", col, err)
		}
		claim := writeClaim{ID: fmt.Sprintf("%s/%s/%d", col, id, old+1), CreatedAt: time.Now().UTC(), Body: body}
		_, err = claims.InsertOne(ctx, claim)
		if mongo.IsDuplicateKeyError(err) {
			if err := s.rollForward(ctx, col, id, old, claim.ID, keys, beforeWrite); err != nil {
				return zero, err
			}
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return zero, mapErr(err)
		}
		// This writer owns version old+1. The version filter cannot fail
		// except when a roll-forward already wrote this very claim.
		if beforeWrite != nil {
			if err := beforeWrite(ctx); err != nil {
				return zero, err
			}
		}
		if _, err := s.casReplace(ctx, col, id, old, bson.Raw(body), keys); err != nil {
			return zero, err
		}
		return doc, nil
	}
	return zero, storage.ErrConflict
}

// rollForward applies a claim that has stayed unapplied longer than
// claimTimeout: its writer died between claim and write. A claim that young
// is left to its writer.
func (s *Store) rollForward(ctx context.Context, col, id string, old int64, claimID string, keys []string, beforeWrite func(context.Context) error) error {
	var c writeClaim
	err := s.db.Collection(colWriteClaims).FindOne(ctx, bson.D{{Key: "_id", Value: claimID}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return mapErr(err)
	}
	if time.Since(c.CreatedAt) < claimTimeout {
		return nil
	}
	if beforeWrite != nil {
		if err := beforeWrite(ctx); err != nil {
			return err
		}
	}
	_, err = s.casReplace(ctx, col, id, old, c.Body, keys)
	return err
}

// backoff waits a little, growing with attempt, before a writer that lost a
// claim reads again.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(5<<attempt)) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// casReplace writes doc in place of the document with id whose version is
// still oldVersion, and lets the server set updated_at. It reports whether it
// matched. doc must marshal to a document with "version" set to the new
// version. keys are every top-level key a document of its type may have
// (fieldKeys): those doc leaves out, an omitempty field set to its zero
// value, are removed, so that the stored document is doc and not doc
// merged over the old one.
func (s *Store) casReplace(ctx context.Context, col string, id any, oldVersion int64, doc any, keys []string) (bool, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", col, err)
	}
	var fields bson.D
	if err := bson.Unmarshal(raw, &fields); err != nil {
		return false, fmt.Errorf("decode %s: %w", col, err)
	}
	set := make(bson.D, 0, len(fields))
	present := make(map[string]bool, len(fields))
	for _, f := range fields {
		present[f.Key] = true
		if f.Key == "_id" || f.Key == "updated_at" {
			continue
		}
		set = append(set, f)
	}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$currentDate", Value: bson.D{{Key: "updated_at", Value: true}}},
	}
	var unset bson.D
	for _, k := range keys {
		if !present[k] && k != "_id" && k != "updated_at" {
			unset = append(unset, bson.E{Key: k, Value: ""})
		}
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	res, err := s.db.Collection(col).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "version", Value: oldVersion}}, update)
	if err != nil {
		return false, mapErr(err)
	}
	return res.MatchedCount == 1, nil
}

// fieldKeys returns the top-level keys of a document of struct type t as
// the driver encodes it: each exported field's bson tag name, or its
// lowercased name when the tag gives none; "-" fields are never stored.
func fieldKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("bson"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
	}
	return keys
}

// insertStamped inserts doc and has the server set its updated_at, in one
// command: an upsert whose filter no stored document matches (every stored
// document has updated_at), so that the unique _id turns a second insert
// into ErrDuplicate. An insert followed by a separate stamp could leave a
// document without updated_at, invisible to every cache's change poll, if
// the database went away in between.
func (s *Store) insertStamped(ctx context.Context, col string, id any, doc any) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", col, err)
	}
	var fields bson.D
	if err := bson.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("decode %s: %w", col, err)
	}
	set := make(bson.D, 0, len(fields))
	for _, f := range fields {
		if f.Key != "_id" && f.Key != "updated_at" {
			set = append(set, f)
		}
	}
	res, err := s.db.Collection(col).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "updated_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{
			{Key: "$setOnInsert", Value: set},
			{Key: "$currentDate", Value: bson.D{{Key: "updated_at", Value: true}}},
		},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return mapErr(err)
	}
	if res.UpsertedCount != 1 {
		// Only a document left without updated_at by an older version
		// matches; it has now been stamped, and it exists.
		return fmt.Errorf("%w: %s %v exists", storage.ErrDuplicate, col, id)
	}
	return nil
}
