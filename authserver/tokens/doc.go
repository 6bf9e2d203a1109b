// Package tokens issues and checks our access tokens: the fosite
// providers of the token endpoint and /customer_authenticate with our
// grant handlers (client credentials, the test-user, delegated and JWT
// bearer grants), the RFC 9068 claims they decide and their binding to
// the key of a DPoP proof (RFC 9449), introspection (RFC 7662), revocation
// and its denylist (RFC 7009), and the authorization server metadata (RFC
// 8414). It speaks HTTP only through fosite, and
// introspection and revocation answer from memory.
package tokens
