// Package verifier validates OAuth 2.0 JWT access tokens (RFC 9068) offline,
// for resource servers: it fetches the authorization server's JWKS (RFC
// 7517) over HTTP with a cache that honours Cache-Control, verifies the
// signature against an algorithm allow-list, checks typ, iss, aud, exp, nbf
// and iat, and returns typed claims including the credential scope
// (app, appUser or account) and the key a DPoP-bound token is bound to.
// VerifyRequest and Middleware take a token the way a request presents
// it, Bearer or DPoP, and accept a DPoP-bound token only with a proof of
// its key (RFC 9449 §7, through verifier/dpop); Middleware puts this in
// front of an http.Handler, with CORS decided by credential scope.
//
// It depends only on go-jose and the standard library, never on the
// authorization server's own packages, so that any resource server can
// import it; it never logs or returns a token.
package verifier
