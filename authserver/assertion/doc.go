// Package assertion verifies the JWTs that apps sign themselves (RFC
// 7523): client assertions (private_key_jwt, client_secret_jwt, §2.2) and
// the user assertions of secure mode (§2.1; docs/credentials.md, "Secure
// mode"), against the keys the app registered (an inline JWKS, a jwks_uri
// fetched under SSRF guards by AppJWKS) or, for HS256, its sealed
// secrets, and refuses a replayed jti. It decides whether an assertion is
// valid; what it buys is the caller's decision.
package assertion
