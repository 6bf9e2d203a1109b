// Package accounts manages the account keys of the admin API ("ak_…")
// and their roles (owner, admin, viewer), and authenticates them from
// this instance's copy of the account document, which follows changes
// made through other instances (docs/admin-api.md, "Roles"). Only a
// key's digest is stored; the account always keeps an owner key.
package accounts
