package assertion

import (
	"net/netip"
	"testing"
)

// The dialer refuses every address that is not globally reachable, by the
// IANA special-purpose address registries (RFC 6890 and its updates),
// whatever the URL's host resolved to: an IPv4 address embedded in an
// IPv6 one is unwrapped and checked as IPv4, and IPv6 outside the global
// unicast space 2000::/3 is refused whole.
func TestJWKSDialControl(t *testing.T) {
	refused := []struct{ name, addr string }{
		// IPv4 (RFC 6890 §2.2.2 and later registrations).
		{"this network 0/8", "0.1.2.3"},
		{"unspecified", "0.0.0.0"},
		{"private 10/8", "10.1.2.3"},
		{"shared address space 100.64/10 (RFC 6598)", "100.64.0.1"},
		{"shared address space, top", "100.127.255.254"},
		{"loopback 127/8", "127.0.0.1"},
		{"loopback, not .1", "127.8.9.10"},
		{"link-local 169.254/16 (cloud metadata)", "169.254.169.254"},
		{"private 172.16/12", "172.16.0.1"},
		{"private 172.16/12, top", "172.31.255.254"},
		{"IETF protocol assignments 192.0.0/24", "192.0.0.8"},
		{"documentation TEST-NET-1 192.0.2/24", "192.0.2.1"},
		{"6to4 relay anycast 192.88.99/24 (RFC 7526)", "192.88.99.1"},
		{"private 192.168/16", "192.168.1.1"},
		{"AS112 anycast 192.31.196/24 (RFC 7535)", "192.31.196.1"},
		{"AMT relay anycast 192.52.193/24 (RFC 7450)", "192.52.193.1"},
		{"AS112 direct delegation 192.175.48/24 (RFC 7534)", "192.175.48.1"},
		{"AS112-v6 direct delegation 2620:4f:8000::/48", "2620:4f:8000::1"},
		{"AS112-v6 2001:4:112::/48 (inside 2001::/23)", "2001:4:112::1"},
		{"benchmarking 198.18/15", "198.18.0.1"},
		{"benchmarking 198.18/15, second /16", "198.19.255.254"},
		{"documentation TEST-NET-2 198.51.100/24", "198.51.100.7"},
		{"documentation TEST-NET-3 203.0.113/24", "203.0.113.9"},
		{"multicast 224/4", "224.0.0.1"},
		{"multicast 224/4, top", "239.255.255.250"},
		{"reserved 240/4", "240.0.0.1"},
		{"reserved 240/4, top", "254.255.255.254"},
		{"limited broadcast", "255.255.255.255"},
		// IPv4 inside IPv6.
		{"IPv4-mapped loopback ::ffff:0:0/96", "::ffff:127.0.0.1"},
		{"IPv4-mapped private", "::ffff:10.0.0.1"},
		{"IPv4-mapped metadata", "::ffff:169.254.169.254"},
		{"IPv4-compatible ::/96 (deprecated)", "::10.0.0.1"},
		{"IPv4-compatible, public IPv4", "::8.8.8.8"},
		{"NAT64 64:ff9b::/96 of a private IPv4", "64:ff9b::a00:1"},
		{"NAT64 of loopback", "64:ff9b::7f00:1"},
		{"NAT64 of shared address space", "64:ff9b::6440:1"},
		{"local-use NAT64 64:ff9b:1::/48 (RFC 8215)", "64:ff9b:1::808:808"},
		{"6to4 2002::/16 of loopback", "2002:7f00:1::1"},
		{"6to4 of a private IPv4", "2002:a00:1::1"},
		{"6to4 of metadata", "2002:a9fe:a9fe::1"},
		{"6to4 of reserved 240/4", "2002:f000:1::1"},
		{"Teredo 2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		{"Teredo embedding a public IPv4", "2001:0:808:808::1"},
		{"IETF protocol assignments 2001::/23", "2001:1::1"},
		{"benchmarking 2001:2::/48", "2001:2::1"},
		{"ORCHIDv2 2001:20::/28", "2001:20::1"},
		{"IETF protocol assignments, top", "2001:1ff:ffff::1"},
		// IPv6.
		{"unspecified ::", "::"},
		{"loopback ::1", "::1"},
		{"discard-only 100::/64", "100::1"},
		{"documentation 2001:db8::/32", "2001:db8::1"},
		{"documentation 3fff::/20 (RFC 9637)", "3fff::1"},
		{"unique local fc00::/7", "fc00::1"},
		{"unique local fd00::/8", "fd12:3456::1"},
		{"link-local fe80::/10", "fe80::1"},
		{"link-local with a zone", "fe80::1%eth0"},
		{"global unicast with a zone", "2606:2800:220:1::1%eth0"},
		{"site-local fec0::/10 (deprecated)", "fec0::1"},
		{"multicast ff00::/8", "ff02::1"},
		{"segment routing 5f00::/16", "5f00::1"},
		{"unallocated outside 2000::/3", "4000::1"},
	}
	allowed := []struct{ name, addr string }{
		{"public IPv4", "93.184.216.34"},
		{"public IPv4 8.8.8.8", "8.8.8.8"},
		{"just below 100.64/10", "100.63.255.255"},
		{"just above 100.64/10", "100.128.0.1"},
		{"just below 172.16/12", "172.15.255.255"},
		{"just above 172.16/12", "172.32.0.1"},
		{"just above 192.0.0/24", "192.0.1.1"},
		{"just below 198.18/15", "198.17.255.254"},
		{"just above 198.18/15", "198.20.0.1"},
		{"highest unicast below 224/4", "223.255.255.254"},
		{"public IPv6", "2606:2800:220:1:248:1893:25c8:1946"},
		{"public IPv6 2a00::/12", "2a00:1450:4001:80b::200e"},
		{"just above 2001::/23", "2001:200::1"},
		{"IPv4-mapped public", "::ffff:93.184.216.34"},
		{"NAT64 of a public IPv4", "64:ff9b::5db8:d822"},
		{"6to4 of a public IPv4", "2002:5db8:d822::1"},
	}
	strict := dialControl(false)
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			if err := strict("tcp", joinHostPort(tc.addr), nil); err == nil {
				t.Errorf("%s is dialled", tc.addr)
			}
		})
	}
	for _, tc := range allowed {
		t.Run("allowed/"+tc.name, func(t *testing.T) {
			if err := strict("tcp", joinHostPort(tc.addr), nil); err != nil {
				t.Errorf("%s: %v", tc.addr, err)
			}
		})
	}

	loose := dialControl(true)
	for _, addr := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		if err := loose("tcp", joinHostPort(addr), nil); err != nil {
			t.Errorf("loopback %s refused with loopback allowed for tests: %v", addr, err)
		}
	}
	for _, addr := range []string{"10.0.0.1", "169.254.169.254", "64:ff9b::7f00:1", "2002:7f00:1::1"} {
		if err := loose("tcp", joinHostPort(addr), nil); err == nil {
			t.Errorf("allowing loopback allowed %s", addr)
		}
	}
	if err := strict("tcp", "not an address", nil); err == nil {
		t.Error("an unparsable address is dialled")
	}
}

func joinHostPort(addr string) string {
	return netip.AddrPortFrom(netip.MustParseAddr(addr), 443).String()
}

func TestCheckJWKSURI(t *testing.T) {
	tests := []struct {
		uri      string
		loopback bool
		ok       bool
	}{
		{"https://keys.example.com/jwks.json", false, true},
		{"http://keys.example.com/jwks.json", false, false},
		{"http://127.0.0.1:8080/jwks.json", false, false},
		{"http://127.0.0.1:8080/jwks.json", true, true},
		{"http://localhost/jwks.json", true, true},
		{"http://10.0.0.1/jwks.json", true, false},
		{"https://user:pass@keys.example.com/jwks.json", false, false},
		{"https://keys.example.com/jwks.json#frag", false, false},
		{"/relative", false, false},
		{"file:///etc/passwd", false, false},
	}
	for _, tc := range tests {
		if err := CheckJWKSURI(tc.uri, tc.loopback); (err == nil) != tc.ok {
			t.Errorf("%s (loopback %v): %v, want ok=%v", tc.uri, tc.loopback, err, tc.ok)
		}
	}
}
