// Package storagetest is the conformance suite of the storage contract:
// Run exercises a storage.Store the way authserver relies on it
// (compare-and-swap updates, uniqueness, the change log, expiry), and every
// implementation's test calls it with a constructor of fresh stores.
// Embedded and External give other tests a real store. It is for tests
// only and must never be imported by the server binary.
package storagetest
