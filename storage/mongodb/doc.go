// Package mongodb implements storage.Store on MongoDB through the official
// driver (go.mongodb.org/mongo-driver/v2); the same code runs on the
// embedded FerretDB v1 (storage/embedded) and on a MongoDB replica set.
//
// It uses neither multi-document transactions nor TTL indexes, which
// FerretDB v1 lacks: each update is a single-document compare-and-swap
// made atomic by a write claim (docs/architecture.md, "Atomic updates
// without transactions"), and expiry is enforced by queries and sweeps. It
// must not decide any rule of the domain: a closure passed to an update
// decides, the store only writes what it returns.
package mongodb
