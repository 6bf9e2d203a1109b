// Package adminapi is the contract of the admin API: its OpenAPI 3.1
// document (openapi.yaml, served as JSON at GET /admin/v1/openapi.json)
// and, in adminapi/client, the Go client generated from it, which the CLI
// uses. The end-to-end tests check every admin exchange against the
// document, so it is what the server does. It holds no handler and no
// rule: those are in handlers and authserver.
package adminapi
