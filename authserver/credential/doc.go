// Package credential defines the formats of the credentials this server
// issues: App IDs, secret keys and account keys with their checksum, the
// SHA-256 digest that is all the store keeps of a secret, its masked form,
// and the random ids of secrets and keys (docs/credentials.md, "Two keys
// per app" and "Secret keys"). It decides nothing about who may use a
// credential, and it imports no other package of this module.
package credential
