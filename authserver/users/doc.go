// Package users holds the end users of apps as this server knows them:
// the opaque customer identifiers derived from an app's own user ids
// (Subjects; docs/credentials.md, "Customer identifiers") and the test
// users of test-environment apps, whose argon2id passwords a test harness
// logs in with (TestUsers; docs/credentials.md, "Test users"). It issues
// no token and never stores or logs a password.
package users
