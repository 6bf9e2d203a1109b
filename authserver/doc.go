// Package authserver is the root of the domain packages below it, which
// decide who may have which token and keep the credentials
// (docs/architecture.md maps them and what each may import). It holds only
// what all of them share: Error, the error every operation returns, with
// the kinds the HTTP layer maps to statuses; StoreError and
// ErrStoreUnavailable; the Actor on whose behalf an operation runs; and
// Page, the cursor of a listing.
//
// No domain package speaks HTTP beyond what fosite requires, and none
// persists or logs a secret, a token or a private key in plaintext.
package authserver
