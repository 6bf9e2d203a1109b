// Package signingkeys owns the keys that sign our access tokens: the
// key-set state machine and its rotation schedule, the private keys sealed
// under the KEK, the JWKS, and the compact JWS of our tokens, signed and
// verified by KeyManager from an immutable snapshot, without a database
// round trip (docs/architecture.md, "Signing-key rotation"). It verifies
// only tokens it signed itself, by their exact header; it checks no claim.
package signingkeys
