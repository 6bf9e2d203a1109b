// Package limits refuses, with 429 and Retry-After, requests that failed
// too often: failed client authentications per presented client id and
// per source (AuthLimiter), wrong test-user passwords per app user and per
// source (LoginLimiter), counted in LRU-bounded sets of token buckets
// (docs/architecture.md, "Abuse resistance"). Only failures count, and an
// exhausted id stops only sources that have failed themselves.
package limits
