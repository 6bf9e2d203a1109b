// Package embedded runs FerretDB in-process, on SQLite files in a private
// directory, as the database a server uses when no MongoDB URI is
// configured: it speaks the MongoDB wire protocol on a Unix socket (and,
// opted in, on a loopback TCP port), and storage/mongodb talks to it like
// to any MongoDB. It knows nothing of authserver's records, and since
// FerretDB has no authentication it must never listen anywhere but a 0600
// socket in a 0700 directory or a loopback address.
package embedded
