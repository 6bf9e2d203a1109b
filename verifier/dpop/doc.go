// Package dpop checks DPoP proofs (OAuth 2.0 Demonstrating Proof of
// Possession, RFC 9449) for the two places that receive them: a token
// endpoint, which binds the tokens it issues to the proof's key (the
// RFC 7638 thumbprint, cnf.jkt), and a resource server, which accepts a
// bound token only with a fresh proof from that key. It verifies one proof
// per request (RFC 9449 §4.3), remembers proof identifiers through a
// ReplayCache the caller supplies, issues stateless server nonces (§8, §9)
// and renders the errors and challenges of §7.1 and §12.2. For clients and
// test harnesses, NewProof makes a proof (§4.2) with a key they hold.
//
// It depends only on the standard library, never on the authorization
// server's own packages, so that any resource server can import it. It
// must not log, and no error it returns contains the proof, a claim value
// or the access token; it trusts nothing in a proof but the key the proof
// itself carries, and it leaves the decision whether DPoP is required, and
// the check of the token's own cnf.jkt, to the caller.
package dpop
