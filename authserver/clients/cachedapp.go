package clients

import (
	"crypto"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/verifier"
)

// CachedApp is an immutable snapshot of an app with its secrets' digests
// decoded for comparison and its inline JWKS parsed.
type CachedApp struct {
	app     storage.App
	secrets []cachedSecret
	// jwks are the app's inline public keys (verifier.ParseJWKS) and
	// thumbprints their RFC 7638 SHA-256 thumbprints, index for index.
	jwks        []jose.JSONWebKey
	thumbprints []string
	// promoted is when a hit last moved the entry to the LRU front (unix
	// nanos on the process clock).
	promoted atomic.Int64
}

type cachedSecret struct {
	id        string
	digest    [32]byte
	active    bool
	expiresAt time.Time
}

// usable reports whether the secret authenticates at now: active and not
// past its grace period.
func (s *cachedSecret) usable(now time.Time) bool {
	return s.active && (s.expiresAt.IsZero() || now.Before(s.expiresAt))
}

// App returns the cached app. Callers must not modify it.
func (e *CachedApp) App() *storage.App { return &e.app }

// MatchSecret returns the id of the app's secret whose digest is digest
// and that authenticates at now, or "". It compares digest with every
// secret in constant time and walks them all, so that the answer time
// says little about why it failed.
func (e *CachedApp) MatchSecret(digest [32]byte, now time.Time) string {
	matched := ""
	for i := range e.secrets {
		s := &e.secrets[i]
		if subtle.ConstantTimeCompare(s.digest[:], digest[:]) == 1 && s.usable(now) {
			matched = s.id
		}
	}
	return matched
}

// SecretUsable reports whether the app's secret App().Secrets[i]
// authenticates at now: active and not past its grace period.
func (e *CachedApp) SecretUsable(i int, now time.Time) bool {
	return e.secrets[i].usable(now)
}

// InlineKeys returns the public keys of the app's inline JWKS
// (verifier.ParseJWKS; none while it publishes them at a jwks_uri) and,
// index for index, their RFC 7638 SHA-256 thumbprints. Callers must not
// modify them.
func (e *CachedApp) InlineKeys() (keys []jose.JSONWebKey, thumbprints []string) {
	return e.jwks, e.thumbprints
}

func newCachedApp(a storage.App) *CachedApp {
	c := &CachedApp{app: a, secrets: make([]cachedSecret, 0, len(a.Secrets))}
	for _, s := range a.Secrets {
		cs := cachedSecret{id: s.ID, active: s.Status == storage.SecretActive, expiresAt: s.ExpiresAt}
		copy(cs.digest[:], s.Digest)
		c.secrets = append(c.secrets, cs)
	}
	if len(a.JWKS) > 0 {
		// Stored sets were checked by normalizeJWKS; one that no longer
		// parses verifies nothing.
		keys, _ := verifier.ParseJWKS(a.JWKS)
		for _, k := range keys {
			tp, err := Thumbprint(k)
			if err != nil {
				continue
			}
			c.jwks = append(c.jwks, k)
			c.thumbprints = append(c.thumbprints, tp)
		}
	}
	return c
}

// Thumbprint is the RFC 7638 JWK thumbprint of k under SHA-256,
// base64url without padding: what names an app's assertion key in the
// tokens it obtained (their assertion_key claim). It fails only for a key
// go-jose cannot thumbprint.
func Thumbprint(k jose.JSONWebKey) (string, error) {
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint of key %q: %w", k.KeyID, err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// secretBacks reports whether the secret id (or none) still backs tokens.
func (e *CachedApp) secretBacks(id string) bool {
	if id == "" {
		return true
	}
	for i := range e.secrets {
		if e.secrets[i].id == id {
			return e.secrets[i].active
		}
	}
	return false
}

// keyBacks reports whether the assertion key thumbprint (or none) still
// backs tokens; see CredentialActive.
func (e *CachedApp) keyBacks(thumbprint string) bool {
	switch {
	case thumbprint == "":
		return true
	case len(e.app.JWKS) > 0:
		return slices.Contains(e.thumbprints, thumbprint)
	default:
		return e.app.JWKSURI != ""
	}
}
