package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// The source the failure limiters count: the peer's address, or behind a
// trusted proxy the right-most X-Forwarded-For hop that is not one; IPv4
// addresses one by one, IPv6 by /64.
func TestClientSource(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"ipv4", "192.0.2.7:5555", "", "192.0.2.7/32"},
		{"ipv6 by /64", "[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2::/64"},
		{"ipv4-mapped ipv6", "[::ffff:192.0.2.7]:1", "", "192.0.2.7/32"},
		{"untrusted peer's X-Forwarded-For ignored", "192.0.2.7:1", "198.51.100.1", "192.0.2.7/32"},
		{"trusted proxy", "10.1.2.3:1", "198.51.100.1", "198.51.100.1/32"},
		{"right-most untrusted hop", "10.1.2.3:1", "203.0.113.9, 198.51.100.1, 10.9.9.9", "198.51.100.1/32"},
		{"spoofed left-most hop ignored", "10.1.2.3:1", "1.2.3.4, 198.51.100.1", "198.51.100.1/32"},
		{"garbage hop", "10.1.2.3:1", "nonsense", "10.1.2.3/32"},
		{"unparsable peer", "pipe", "", "invalid Prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := clientSource(r, trusted).String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
