package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver/authserver/test/testserver"
)

// cachingVerifier is a resource server that verifies access tokens offline
// the way a well-behaved one does (RFC 9068 §4, RFC 7517): it caches the
// JWKS for the response's Cache-Control max-age, measured on the test's
// clock; revalidates with If-None-Match when the cache expires; and
// refetches once when a token names a kid it does not know. Only go-jose
// and net/http: none of the server's code.
type cachingVerifier struct {
	jwksURL  string
	issuer   string
	audience string
	now      func() time.Time

	set     jose.JSONWebKeySet
	etag    string
	expires time.Time
	// fetches counts requests for the JWKS; notModified those answered
	// 304; unknownKid the refetches an unknown kid forced.
	fetches, notModified, unknownKid int
}

func newCachingVerifier(baseURL, issuer, audience string, now func() time.Time) *cachingVerifier {
	return &cachingVerifier{jwksURL: baseURL + "/.well-known/jwks.json", issuer: issuer, audience: audience, now: now}
}

// refresh fetches the JWKS (conditionally once it has one).
func (v *cachingVerifier) refresh() error {
	req, err := http.NewRequest(http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return err
	}
	if v.etag != "" {
		req.Header.Set("If-None-Match", v.etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	v.fetches++
	maxAge, err := maxAgeOf(resp.Header.Get("Cache-Control"))
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		v.notModified++
	case http.StatusOK:
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil {
			return fmt.Errorf("decode jwks: %w", err)
		}
		v.set, v.etag = set, resp.Header.Get("ETag")
	default:
		return fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	v.expires = v.now().Add(maxAge)
	return nil
}

func maxAgeOf(cacheControl string) (time.Duration, error) {
	for _, d := range strings.Split(cacheControl, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad max-age in %q", cacheControl)
			}
			return time.Duration(n) * time.Second, nil
		}
	}
	return 0, fmt.Errorf("no max-age in Cache-Control %q", cacheControl)
}

// Verify checks token against the cached JWKS, refreshing it first if its
// max-age is over, and once more if the token's kid is unknown.
func (v *cachingVerifier) Verify(token string) (accessClaims, error) {
	if v.etag == "" || !v.now().Before(v.expires) {
		if err := v.refresh(); err != nil {
			return accessClaims{}, err
		}
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return accessClaims{}, fmt.Errorf("parse: %w", err)
	}
	if kid := tok.Headers[0].KeyID; len(v.set.Key(kid)) == 0 {
		v.unknownKid++
		if err := v.refresh(); err != nil {
			return accessClaims{}, err
		}
	}
	c, _, err := verifyToken(token, v.set, v.issuer, v.audience, v.now())
	return c, err
}

// waitUntil polls cond until it holds, failing the test after a generous
// deadline; it synchronises with background loops without sleeping a
// fixed time.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll(t, what, 2*time.Millisecond, 60*time.Second, cond)
}

// settle waits until every instance's signing-key scheduler has completed
// a pass at or after the clock's current time: every transition due by
// now has been made, and every instance has reloaded what the others
// wrote before it.
func settle(t testing.TB, clock *testserver.Clock, instances ...*testserver.Instance) {
	t.Helper()
	now := clock.Now()
	for _, in := range instances {
		waitUntil(t, "the signing-key scheduler to catch up with the clock", func() bool {
			return !in.Server.Keys.CheckedAt().Before(now)
		})
	}
}
