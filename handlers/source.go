package handlers

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authserver/authserver/authserver/limits"
)

// withSource returns r's context carrying r's network source
// (clientSource), which the failure limiters of client authentication and
// test-user logins count.
func withSource(r *http.Request, trusted []netip.Prefix) context.Context {
	return limits.WithSource(r.Context(), clientSource(r, trusted))
}

// clientSource is the network source of r as the failure limiters count
// it (limits.WithSource): its IPv4 address or IPv6 /64, taken from
// X-Forwarded-For when the peer is in trusted, a reverse proxy (the
// right-most hop not itself trusted: every proxy appends the address it
// received from, and only the hops our proxies appended can be believed);
// the zero Prefix, one "unknown" source, for an unparsable peer address
// or no request.
func clientSource(r *http.Request, trusted []netip.Prefix) netip.Prefix {
	if r == nil {
		return netip.Prefix{}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	addr := ap.Addr().Unmap()
	if inPrefixes(trusted, addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = hop.Unmap()
			if !inPrefixes(trusted, addr) {
				break
			}
		}
	}
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
