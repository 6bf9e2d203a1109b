package testserver

import (
	"regexp"
	"testing"
)

// credentialShapes match what must never reach a log line: app secrets
// (sk_live_/sk_test_ + 49 base62 characters), account keys (ak_ + 49) and
// JWTs (three base64url parts, the first two JSON objects).
var credentialShapes = regexp.MustCompile(
	`sk_(?:live|test)_[0-9A-Za-z]{49}|ak_[0-9A-Za-z]{49}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)

// CheckLogs fails the test if anything the instance logged looks like a
// secret, an account key or a token. Every instance runs it when its test
// ends, so the whole suite's logs are checked.
func (in *Instance) CheckLogs(t testing.TB) {
	t.Helper()
	if m := credentialShapes.FindAllString(in.Logs.String(), 3); len(m) > 0 {
		for i, s := range m {
			m[i] = s[:6] + "…" // name the kind, never the value
		}
		t.Errorf("the server logged %d credential-shaped strings (%v)", len(m), m)
	}
}
