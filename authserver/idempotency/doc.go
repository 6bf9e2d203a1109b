// Package idempotency makes the admin API's creates (apps, secrets,
// rotations, account keys) safe to retry with an Idempotency-Key: the
// first request claims the key and fixes the ids it will create, and a
// retry replays the first request's resource, masked, instead of creating
// another (docs/admin-api.md, "Idempotency-Key"). It never stores a
// secret's plaintext, so a replay cannot show it again.
package idempotency
