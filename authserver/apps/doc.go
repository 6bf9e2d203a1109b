// Package apps is the admin side of apps and their credentials: creating,
// listing, updating, disabling apps, and the lifecycle of their secrets
// (create, rotate with a grace period, discard, reactivate, delete) as
// pure rules over one app document, run inside a compare-and-swap update
// (docs/credentials.md, "Rotation without downtime" and "Expiry"), and
// how an app signs its own assertions (AssertionKeys). A secret's
// plaintext leaves it exactly once, in the answer that creates it.
package apps
