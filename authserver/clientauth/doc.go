// Package clientauth authenticates the client of a token, introspection
// or revocation request (RFC 6749 §2.3) as fosite's
// ClientAuthenticationStrategy: client_secret_basic and client_secret_post
// against the cached app's secrets in constant time, private_key_jwt and
// client_secret_jwt through the assertion verifier (RFC 7523 §2.2). Every
// failure is the same invalid_client, and an app credential sent by a
// browser is refused (docs/credentials.md, "Browsers").
package clientauth
