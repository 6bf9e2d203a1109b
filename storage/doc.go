// Package storage is the contract between authserver and its database: the
// records it persists and Store, every operation the server's packages need
// of a database, with the errors they return.
//
// It holds no rules and no database code. Every invariant (at most two
// active secrets, one active signing key, ...) is decided by the caller
// inside an updater closure; a Store only guarantees that the closure's
// result is written atomically against the version it read. The MongoDB
// implementation is storage/mongodb, the embedded FerretDB it runs on by
// default storage/embedded, and storage/storagetest the conformance suite
// every implementation must pass. This package must not import a database
// driver: the records' bson tags name their MongoDB fields, nothing more.
package storage
