// Package clients serves apps as OAuth clients from memory: Cache, a
// bounded LRU of apps that follows the database's change log so that
// nothing on the token path waits on the database; Client, an app as
// fosite's client; whether a token's credentials still back it
// (CredentialActive); the last-used times of secrets; and the browser
// origins apps allow (docs/architecture.md, "Nothing on the token path
// waits on the database"). It decides no grant and writes no app.
package clients
