// Package server wires authserver together: it opens the database (the
// embedded FerretDB or a MongoDB URI), loads the key-encryption key,
// initialises the signing keys, caches and services, and serves the public
// and admin listeners with graceful shutdown. It holds no rules of its own;
// cmd/authserver only loads configuration and calls it, and the end-to-end
// tests start the same server through it.
package server
