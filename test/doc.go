// Package test holds the end-to-end tests: each starts the real server on
// the embedded FerretDB and drives it over loopback HTTP with independent
// clients (golang.org/x/oauth2/clientcredentials, go-jose for JWKS
// verification, net/http).
//
// Every test owns its servers (ports picked by the kernel, temporary data
// directories, an injected clock each) and runs in parallel with the
// others. A test must not touch process-wide state (environment
// variables, the working directory, http.DefaultTransport's settings) and
// must not bound real elapsed time; one that has to bound it stays serial
// and says why.
package test
