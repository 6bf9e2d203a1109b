// Package audit keeps the audit log of the credential lifecycle: each
// success is one event, written after the change; refusals and failed
// admin authentications are counted in memory and written once per
// FailureWindow as one event per distinct failure, so that an attacker can
// neither fill the log nor turn failures into database writes
// (docs/admin-api.md, "Audit log"). An event never holds key material.
package audit
