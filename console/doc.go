// Package console is the admin console: server-rendered pages under
// /console on the admin listener for apps, secrets, signing keys, the
// audit log and a token tester (docs/console.md). It calls the domain services
// directly through small interfaces, never the admin API over HTTP, and
// holds no rules of its own beyond who may see and press what: sign-in
// with an account key, in-memory sessions, CSRF and same-origin checks,
// and the role of the key on every request. Its templates, stylesheet and
// script are embedded; the pages make no external request.
package console
