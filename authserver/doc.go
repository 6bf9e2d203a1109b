// Package authserver is the domain core: it decides who may have which
// token. It wires fosite's token endpoint to our own client authentication
// and grant handlers, mints RFC 9068 JWT access tokens with keys from the
// signing-key manager (a fosite jwt.Signer that signs and verifies the
// compact JWS itself, go-jose only for JWKs), and holds the
// credential lifecycle rules (apps, secrets, account keys) and the caches
// that keep the database off the token path.
//
// It must not speak HTTP beyond what fosite requires, and it never persists
// or logs a secret, a token or a private key in plaintext.
package authserver
