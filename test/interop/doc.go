// Package interop is authserver's third-party interop suite. TestInterop
// builds cmd/authserver, starts it on the embedded database once per
// signing algorithm (RS256, ES256, EdDSA), and runs against each the OAuth
// clients and JWT verifiers that teams already use: Node.js libraries on
// Node's built-in fetch (node/), Python libraries from Debian's packages
// (python/), the JDK's own HTTP clients and crypto (java/, JSON by
// Debian's Jackson), Go libraries (goclient/) and curl. Every row of the matrix
// passes, is an expected failure whose reason the suite states and whose
// error it recognises, or fails the test; the matrix is written to
// docs/interop.md.
//
// It is a module of its own so that the clients' dependencies stay out of
// the server's go.mod, and outside the repository's go.work, so that the
// README's test command does not reach it. Run it with:
// cd test/interop && GOWORK=off go test -count=1 .
package interop
