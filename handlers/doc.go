// Package handlers is the HTTP surface: gorilla/mux routes, thin handlers
// that translate HTTP to domain calls and back, and middleware (body limits,
// request ids, access logs). Decisions about who gets which token belong to
// package authserver, not here. No handler logs a secret, a token or a
// password.
package handlers
