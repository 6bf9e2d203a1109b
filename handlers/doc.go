// Package handlers is the HTTP surface: gorilla/mux routes, thin handlers
// that translate HTTP to domain calls and back, and middleware (body limits,
// request ids, access logs), and the HTTP details the domain must not know:
// cookie names and the source address of a request (X-Forwarded-For behind
// trusted proxies). Decisions about who gets which token belong to the
// packages under authserver/, not here. No handler logs a secret, a token
// or a password.
package handlers
