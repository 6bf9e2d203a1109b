// Package storage is the MongoDB adapter of authserver: the record types it
// persists, a Store on go.mongodb.org/mongo-driver/v2 and an embedded
// FerretDB that speaks the same wire protocol when no MongoDB URI is
// configured.
//
// Storage holds no rules. Every invariant (at most two active secrets, one
// active signing key, ...) is decided by the caller inside an updater closure;
// the Store only guarantees that the closure's result is written atomically
// against the version it read. It uses neither multi-document transactions nor
// TTL indexes, which FerretDB v1 lacks: each update is a single-document
// compare-and-swap on a version field, and expiry is enforced by queries and a
// sweep.
package storage
