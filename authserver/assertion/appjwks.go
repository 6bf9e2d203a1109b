package assertion

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/authserver/authserver/verifier"
)

// AppJWKSConfig bounds the fetching of apps' jwks_uri documents.
type AppJWKSConfig struct {
	// Timeout bounds one fetch, connection included (default 5s).
	Timeout time.Duration
	// MaxBytes bounds one document (default 64 KiB).
	MaxBytes int64
	// DefaultTTL is how long a document without Cache-Control max-age is
	// kept; max-age is honoured between 1m and 1h (default 5m).
	DefaultTTL time.Duration
	// RefetchInterval is the least time between two fetches of one URI
	// caused by an unknown kid, and the back-off after a failed fetch
	// (default 30s).
	RefetchInterval time.Duration
	// AllowLoopback lets jwks_uri use http and loopback addresses; for
	// tests only. Without it only https to public addresses is fetched.
	AllowLoopback bool
	// Now is the clock of cache lifetimes.
	Now func() time.Time
}

// AppJWKS fetches and caches the JWKS documents apps publish at their
// jwks_uri (RFC 7591 §2), for their client assertions and signed user
// assertions (RFC 7523). Fetching is where a server-side request forgery
// would happen, so: https only; no redirects, proxies or userinfo; the
// address actually dialled, after DNS resolution, must be a globally
// reachable unicast one (globalAddr: no loopback, private, link-local,
// shared, reserved, documentation or multicast range, nor an IPv6 address
// that wraps one), which also defeats DNS rebinding; bounded time and
// size. Documents are cached per app version and URI, so changing an app's
// key settings drops its cached keys at once.
//
// A fetch runs in the background with its own Timeout, one at a time per
// document (verifier.RemoteKeySet): a request that hangs up while its
// assertion's keys are being fetched neither aborts the fetch nor starts
// the RefetchInterval back-off, which only a failure of the app's server
// (no answer in time, a status other than 200, no JWK Set) starts.
type AppJWKS struct {
	cfg    AppJWKSConfig
	client *http.Client
	sets   *lru.Cache[string, *verifier.RemoteKeySet]
}

// NewAppJWKS returns the fetcher.
func NewAppJWKS(cfg AppJWKSConfig) *AppJWKS {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 10
	}
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = 5 * time.Minute
	}
	if cfg.RefetchInterval <= 0 {
		cfg.RefetchInterval = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: dialControl(cfg.AllowLoopback)}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("jwks_uri redirects are not followed")
		},
	}
	sets, _ := lru.New[string, *verifier.RemoteKeySet](4096)
	return &AppJWKS{cfg: cfg, client: client, sets: sets}
}

// Keys returns the keys of the document at uri with kid (all keys when kid
// is ""), for the app at version. Errors wrap verifier.ErrUnknownKey or
// verifier.ErrKeySetUnavailable.
func (j *AppJWKS) Keys(ctx context.Context, appID string, version int64, uri, kid string) ([]jose.JSONWebKey, error) {
	if err := CheckJWKSURI(uri, j.cfg.AllowLoopback); err != nil {
		return nil, fmt.Errorf("%w: %w", verifier.ErrKeySetUnavailable, err)
	}
	cacheKey := fmt.Sprintf("%s\x00%d\x00%s", appID, version, uri)
	set, ok := j.sets.Get(cacheKey)
	if !ok {
		fresh := verifier.NewRemoteKeySet(uri, verifier.KeySetOptions{
			HTTPClient: j.client, MaxBytes: j.cfg.MaxBytes, DefaultTTL: j.cfg.DefaultTTL,
			MinTTL: time.Minute, MaxTTL: time.Hour, RefetchInterval: j.cfg.RefetchInterval,
			FetchTimeout: j.cfg.Timeout, Now: j.cfg.Now,
		})
		// Concurrent first uses share one set, and so one fetch.
		if prev, found, _ := j.sets.PeekOrAdd(cacheKey, fresh); found {
			set = prev
		} else {
			set = fresh
		}
	}
	return set.Keys(ctx, kid)
}

// CheckJWKSURI validates a jwks_uri: an absolute https URL without
// userinfo or fragment, at most 2048 bytes. With allowLoopback, http to a
// loopback host is accepted too (tests).
func CheckJWKSURI(raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return errors.New("jwks_uri must be an absolute URL without userinfo or fragment")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && allowLoopback && isLoopbackHost(u.Hostname()):
		return nil
	}
	return errors.New("jwks_uri must use https")
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// Address ranges a jwks_uri fetch may not reach. A document is only ever
// at a globally reachable address, so the filter follows the IANA IPv4
// and IPv6 Special-Purpose Address Registries (RFC 6890 and the RFCs that
// update them): every range not globally reachable is refused, and so are
// the few marked reachable (anycast services, AS112) that no web server
// lives on. IPv6 is allowed only in the global unicast space 2000::/3
// (RFC 4291 §2.4), which also refuses ::/128, ::1, the discard prefix,
// unique-local, link-local, site-local, multicast and whatever IANA has
// not allocated. IPv6 forms that carry an IPv4 address are checked by that
// address: IPv4-mapped (::ffff:0:0/96, RFC 4291 §2.5.5.2), NAT64
// (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056); the deprecated
// IPv4-compatible ::/96 and the local-use NAT64 prefix 64:ff9b:1::/48
// (RFC 8215) are refused whole.
var (
	nonGlobal4 = prefixes(
		"0.0.0.0/8",       // "this network" (RFC 791)
		"10.0.0.0/8",      // private use (RFC 1918)
		"100.64.0.0/10",   // shared address space, carrier-grade NAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local: cloud metadata endpoints live here
		"172.16.0.0/12",   // private use
		"192.0.0.0/24",    // IETF protocol assignments (RFC 6890 §2.2.2)
		"192.0.2.0/24",    // documentation, TEST-NET-1 (RFC 5737)
		"192.31.196.0/24", // AS112 anycast DNS (RFC 7535): reachable, no web server
		"192.52.193.0/24", // AMT relay anycast (RFC 7450)
		"192.88.99.0/24",  // deprecated 6to4 relay anycast (RFC 7526)
		"192.168.0.0/16",  // private use
		"192.175.48.0/24", // AS112 direct delegation (RFC 7534)
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // documentation, TEST-NET-2
		"203.0.113.0/24",  // documentation, TEST-NET-3
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved (RFC 1112), limited broadcast included
	)
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nonGlobal6     = prefixes(
		"2001::/23",         // IETF protocol assignments: Teredo 2001::/32 (RFC 4380), benchmarking, ORCHID, ...
		"2001:db8::/32",     // documentation (RFC 3849)
		"3fff::/20",         // documentation (RFC 9637)
		"2620:4f:8000::/48", // AS112-v6 direct delegation (RFC 7534)
	)
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func prefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

// globalAddr reports whether a is a globally reachable unicast address a
// jwks_uri fetch may dial (see nonGlobal4). An address with an IPv6 zone
// is never one.
func globalAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		for _, p := range nonGlobal4 {
			if p.Contains(a) {
				return false
			}
		}
		return true
	}
	b := a.As16()
	switch {
	case a.Zone() != "":
		return false
	case nat64.Contains(a):
		return globalAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return globalAddr(netip.AddrFrom4([4]byte(b[2:6])))
	case !globalUnicast6.Contains(a):
		return false
	}
	for _, p := range nonGlobal6 {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// dialControl refuses connections to addresses that are not globally
// reachable unicast ones (globalAddr), checked on the resolved address at
// connect time; with allowLoopback (tests) loopback is allowed too.
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("jwks_uri address %q: %w", address, err)
		}
		a := ap.Addr()
		if allowLoopback && a.Unmap().IsLoopback() {
			return nil
		}
		if !globalAddr(a) {
			return fmt.Errorf("jwks_uri resolves to a non-public address %s", a)
		}
		return nil
	}
}
