package authserver

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
	// caused by an unknown kid (default 30s).
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
// address actually dialled, after DNS resolution, must be a public unicast
// one (no loopback, private, link-local, CGNAT or multicast ranges), which
// also defeats DNS rebinding; bounded time and size. Documents are cached
// per app version and URI, so changing an app's key settings drops its
// cached keys at once.
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
		set = verifier.NewRemoteKeySet(uri, verifier.KeySetOptions{
			HTTPClient: j.client, MaxBytes: j.cfg.MaxBytes, DefaultTTL: j.cfg.DefaultTTL,
			MinTTL: time.Minute, MaxTTL: time.Hour, RefetchInterval: j.cfg.RefetchInterval, Now: j.cfg.Now,
		})
		j.sets.Add(cacheKey, set)
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

// Ranges that IsPrivate and friends do not cover: the shared address
// space of RFC 6598 and the NAT64 prefix of RFC 6052, which can reach
// private IPv4 addresses.
var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

// dialControl refuses connections to addresses that are not public
// unicast, checked on the resolved address at connect time.
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("jwks_uri address %q: %w", address, err)
		}
		a := ap.Addr().Unmap()
		if allowLoopback && a.IsLoopback() {
			return nil
		}
		if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || cgnat.Contains(a) || nat64.Contains(a) {
			return fmt.Errorf("jwks_uri resolves to a non-public address %s", a)
		}
		return nil
	}
}
