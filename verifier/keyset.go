package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Errors of key look-ups. Test them with errors.Is.
var (
	// ErrUnknownKey: no key of the set has the requested kid, even after
	// a refetch (or a refetch was not allowed yet by the rate limit).
	ErrUnknownKey = errors.New("verifier: unknown signing key")
	// ErrKeySetUnavailable: the JWKS could not be fetched and no earlier
	// copy is cached.
	ErrKeySetUnavailable = errors.New("verifier: JWKS unavailable")
)

// KeySource gives the public keys that may verify a token: those with kid,
// or every key when kid is empty. It returns ErrUnknownKey when there is
// none and ErrKeySetUnavailable when it cannot tell.
type KeySource interface {
	Keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// KeySetOptions tune a RemoteKeySet. Zero values take the defaults shown.
type KeySetOptions struct {
	// HTTPClient fetches the JWKS; default a client with a 10s timeout.
	HTTPClient *http.Client
	// MaxBytes bounds the JWKS document; default 256 KiB.
	MaxBytes int64
	// DefaultTTL is how long a JWKS is kept when its response has neither
	// Cache-Control max-age nor Expires; default 5m.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL bound the lifetime taken from the response headers
	// (no-store and max-age=0 count as zero); defaults 30s and 24h. MinTTL
	// keeps a misconfigured server from making every request a fetch.
	MinTTL, MaxTTL time.Duration
	// RefetchInterval is the least time between two fetches caused by an
	// unknown kid or a failed fetch; default 30s. It stops tokens with
	// random kids from turning into a flood of JWKS requests.
	RefetchInterval time.Duration
	// FetchTimeout bounds one fetch, which runs on a context of its own
	// rather than the caller's (HTTPClient's own Timeout, if shorter,
	// applies too); default 10s.
	FetchTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *KeySetOptions) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 10
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = 5 * time.Minute
	}
	if o.MinTTL <= 0 {
		o.MinTTL = 30 * time.Second
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = 24 * time.Hour
	}
	if o.MaxTTL < o.MinTTL {
		o.MaxTTL = o.MinTTL
	}
	if o.RefetchInterval <= 0 {
		o.RefetchInterval = 30 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// RemoteKeySet is a JWKS (RFC 7517 §5) fetched from a URL and cached for as
// long as the response's Cache-Control max-age (or Expires) says, within
// [MinTTL, MaxTTL]. A kid it does not know causes one refetch, at most
// once per RefetchInterval; an expired copy is revalidated with
// If-None-Match. When a refetch fails the last good copy keeps serving. It
// keeps only public signature keys: symmetric ("oct") and private keys in
// the document are ignored. Safe for concurrent use.
//
// A fetch runs in the background on a context of its own, bounded by
// FetchTimeout, and at most one runs at a time: callers that need it wait
// for it or for their own context, whichever ends first. A caller that
// gives up therefore neither aborts the fetch nor starts the back-off;
// only a failure upstream (no answer in time, a status other than 200, a
// document that is not a JWK Set or is too large) does.
type RemoteKeySet struct {
	url  string
	opts KeySetOptions

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched bool
	// flight is the fetch in progress, nil when none is: callers arriving
	// meanwhile wait for it rather than start another.
	flight    *flight
	etag      string
	expires   time.Time
	lastFetch time.Time
	fetches   int
	// completed counts fetches that have ended, in success or failure.
	completed int
}

var _ KeySource = (*RemoteKeySet)(nil)

// NewRemoteKeySet returns a key set fetched from url on first use.
func NewRemoteKeySet(url string, opts KeySetOptions) *RemoteKeySet {
	opts.defaults()
	return &RemoteKeySet{url: url, opts: opts}
}

// Fetches returns how many HTTP requests the set has made (successful or
// not): resource servers expose it as a metric, tests as evidence.
func (k *RemoteKeySet) Fetches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

// Keys implements KeySource. It fetches the set when it has none or its
// copy has expired, and refetches when kid is unknown; both at most once
// per RefetchInterval, serving the last good copy in between.
func (k *RemoteKeySet) Keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	st := k.state()
	switch {
	case st.fetched:
		found := pick(st.keys, kid)
		if len(found) > 0 && (st.fresh || !st.mayFetch) {
			return found, nil
		}
		if !st.mayFetch {
			return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
		}
	case !st.mayFetch:
		return nil, fmt.Errorf("%w: the last fetch failed; retrying after %v", ErrKeySetUnavailable, k.opts.RefetchInterval)
	}
	err := k.refresh(ctx, st.completed)
	st = k.state()
	if !st.fetched {
		if err == nil {
			err = ErrKeySetUnavailable
		}
		return nil, err
	}
	if found := pick(st.keys, kid); len(found) > 0 {
		return found, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

type keySetState struct {
	keys           []jose.JSONWebKey
	fetched, fresh bool
	mayFetch       bool
	completed      int
}

// state returns the cached keys, whether they are fresh, whether a fetch
// may be waited for now (one is in flight, or the rate limit allows a new
// one), and how many fetches have ended so far.
func (k *RemoteKeySet) state() keySetState {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.opts.Now()
	return keySetState{
		keys: k.keys, fetched: k.fetched, fresh: k.fetched && now.Before(k.expires),
		mayFetch:  k.flight != nil || k.lastFetch.IsZero() || now.Sub(k.lastFetch) >= k.opts.RefetchInterval,
		completed: k.completed,
	}
}

// flight is one fetch; done is closed when it ends, after err is set.
type flight struct {
	done chan struct{}
	err  error
}

// refresh waits for a fetch of the set, joining the one in flight or
// starting one unless a fetch ended since this caller looked (completed
// changed). The fetch is not the caller's: it runs in its own goroutine on
// its own context, bounded by FetchTimeout, and ctx ending only stops the
// wait.
func (k *RemoteKeySet) refresh(ctx context.Context, completed int) error {
	k.mu.Lock()
	f := k.flight
	if f == nil {
		if k.completed != completed {
			k.mu.Unlock()
			return nil
		}
		f = &flight{done: make(chan struct{})}
		k.flight = f
		etag := k.etag
		k.lastFetch = k.opts.Now()
		k.fetches++
		go func() {
			fctx, cancel := context.WithTimeout(context.Background(), k.opts.FetchTimeout)
			defer cancel()
			err := k.fetch(fctx, etag)
			k.mu.Lock()
			k.flight = nil
			k.completed++
			k.mu.Unlock()
			f.err = err
			close(f.done)
		}()
	}
	k.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeySetUnavailable, ctx.Err())
	}
}

// fetch GETs the JWKS, revalidating with If-None-Match when it has an ETag.
func (k *RemoteKeySet) fetch(ctx context.Context, etag string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := k.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: fetch %s: %w", ErrKeySetUnavailable, k.url, err)
	}
	defer resp.Body.Close()
	now := k.opts.Now()
	ttl := k.ttl(resp.Header, now)
	switch {
	case resp.StatusCode == http.StatusNotModified && etag != "":
		k.mu.Lock()
		k.expires = now.Add(ttl)
		k.mu.Unlock()
		return nil
	case resp.StatusCode != http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%w: fetch %s: status %d", ErrKeySetUnavailable, k.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, k.opts.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrKeySetUnavailable, k.url, err)
	}
	if int64(len(body)) > k.opts.MaxBytes {
		return fmt.Errorf("%w: %s is larger than %d bytes", ErrKeySetUnavailable, k.url, k.opts.MaxBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrKeySetUnavailable, k.url, err)
	}
	k.mu.Lock()
	k.keys, k.fetched, k.etag, k.expires = keys, true, resp.Header.Get("ETag"), now.Add(ttl)
	k.mu.Unlock()
	return nil
}

// ttl reads Cache-Control max-age (no-store and no-cache count as zero),
// else Expires, else DefaultTTL, and clamps it to [MinTTL, MaxTTL].
func (k *RemoteKeySet) ttl(h http.Header, now time.Time) time.Duration {
	ttl, found := time.Duration(0), false
	for _, d := range strings.Split(h.Get("Cache-Control"), ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			ttl, found = 0, true
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
			if err == nil && n >= 0 && !found {
				ttl, found = time.Duration(min(n, int64(k.opts.MaxTTL/time.Second)))*time.Second, true
			}
		}
	}
	if !found {
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			ttl, found = exp.Sub(now), true
		}
	}
	if !found {
		ttl = k.opts.DefaultTTL
	}
	return min(max(ttl, k.opts.MinTTL), k.opts.MaxTTL)
}

// ParseJWKS decodes a JWKS document and returns its public signature
// keys. Keys it cannot decode (an unknown kty), symmetric keys, private
// keys and keys whose use is not "sig" are skipped rather than failing the
// whole set (RFC 7517 §5: "implementations SHOULD ignore JWKs within a JWK
// Set that use kty values that are not understood"). It fails only when the
// document is not a JWK Set.
func ParseJWKS(doc []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil || raw.Keys == nil {
		return nil, errors.New("not a JWK Set")
	}
	keys := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue
		}
		if !k.IsPublic() || !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// pick returns the keys with kid, or all keys when kid is empty.
func pick(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	if kid == "" {
		return keys
	}
	var out []jose.JSONWebKey
	for _, k := range keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// KeyFits reports whether k may verify a JWS signed with alg: a public key
// (never a symmetric one: an HMAC "signature" made with a public key
// proves nothing) of the type and curve alg needs, RSA keys of at least
// 2048 bits, "use" unset or "sig", and "alg" unset or equal to alg
// (RFC 7517 §4.2, §4.4).
func KeyFits(k jose.JSONWebKey, alg string) bool {
	if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != alg) {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && key.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return key.Curve == elliptic.P256()
		case "ES384":
			return key.Curve == elliptic.P384()
		case "ES512":
			return key.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
