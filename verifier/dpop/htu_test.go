package dpop

import "testing"

// TestNormalizeHTTPURI: the equivalences RFC 3986 §6.2.2 and §6.2.3 allow,
// and the differences that remain.
func TestNormalizeHTTPURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
	}{
		{"https://server.example.com/token", "https://server.example.com/token"},
		{"HTTPS://SERVER.Example.com/token", "https://server.example.com/token"},
		{"https://server.example.com:443/token", "https://server.example.com/token"},
		{"http://server.example.com:80/token", "http://server.example.com/token"},
		{"https://server.example.com:/token", "https://server.example.com/token"},
		{"https://server.example.com:0443/token", "https://server.example.com/token"},
		{"http://server.example.com:443/token", "http://server.example.com:443/token"},
		{"https://server.example.com:8443/token", "https://server.example.com:8443/token"},
		{"https://server.example.com", "https://server.example.com/"},
		{"https://server.example.com?x=1", "https://server.example.com/"},
		{"https://server.example.com/token?x=1#frag", "https://server.example.com/token"},
		{"https://server.example.com/%7Euser/%2fa%2F", "https://server.example.com/~user/%2Fa%2F"},
		{"https://server.example.com/%74oken", "https://server.example.com/token"},
		{"https://server.example.com/a/./b/../token", "https://server.example.com/a/token"},
		{"https://server.example.com/../../token", "https://server.example.com/token"},
		{"https://server.example.com/a/%2E%2E/token", "https://server.example.com/token"},
		{"https://server.example.com/a/.", "https://server.example.com/a/"},
		{"https://server.example.com/token/", "https://server.example.com/token/"},
		{"https://server.example.com//token", "https://server.example.com//token"},
		{"https://server.example.com/To%6Ben", "https://server.example.com/Token"},
		{"https://[2001:DB8::1]/token", "https://[2001:db8::1]/token"},
		{"https://[2001:db8::1]:443/token", "https://[2001:db8::1]/token"},
		{"https://[2001:db8::1]:8443/token", "https://[2001:db8::1]:8443/token"},
		{"https://192.0.2.1:8443/token", "https://192.0.2.1:8443/token"},
	} {
		got, err := normalizeHTTPURI(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeHTTPURI(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "/token", "server.example.com/token", "ftp://server.example.com/token",
		"https:///token", "https://user:pw@server.example.com/token", "https:opaque",
		"https://server.example.com:99999/token", "https://server.example.com:x/token",
		"https://[::1/token", "https://server.example.com/\x7f", "https://server.example.com/a%zz",
	} {
		if got, err := normalizeHTTPURI(bad); err == nil {
			t.Errorf("normalizeHTTPURI(%q) = %q, want an error", bad, got)
		}
	}
}
