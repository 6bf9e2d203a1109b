// Package test holds the end-to-end tests: each starts the real server on
// the embedded FerretDB and drives it over loopback HTTP with independent
// clients (golang.org/x/oauth2/clientcredentials, go-jose for JWKS
// verification, net/http).
package test
