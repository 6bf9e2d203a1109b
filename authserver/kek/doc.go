// Package kek seals secrets at rest (private signing keys, per-app
// customer-identifier keys, secrets kept for HS256 assertions) with
// AES-256-GCM under the key-encryption key, and opens values sealed under
// it or a previous one, so that the KEK can be rotated without downtime.
// It never logs or returns a KEK; a KEK is named only by its ID.
package kek
