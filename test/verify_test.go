package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// accessClaims are the RFC 9068 claims a resource server reads, decoded by
// go-jose, not by our code.
type accessClaims struct {
	jwt.Claims
	ClientID        string `json:"client_id"`
	Scope           string `json:"scope"`
	CredentialScope string `json:"credential_scope"`
	SecretID        string `json:"secret_id"`
}

// fetchJWKS fetches the JWKS over HTTP as a resource server would.
func fetchJWKS(t testing.TB, baseURL string) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(baseURL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatalf("fetch jwks: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode jwks: %v", err)
	}
	return set
}

// verifyToken verifies token against set with go-jose: signature by the key
// its kid names, typ "at+jwt", and iss, aud, exp at now. It returns the
// claims and the header or an error.
func verifyToken(token string, set jose.JSONWebKeySet, issuer, audience string, now time.Time) (accessClaims, jose.Header, error) {
	var c accessClaims
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return c, jose.Header{}, fmt.Errorf("parse: %w", err)
	}
	if len(tok.Headers) != 1 {
		return c, jose.Header{}, fmt.Errorf("%d headers", len(tok.Headers))
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		return c, h, fmt.Errorf("typ %q, want at+jwt", typ)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		return c, h, fmt.Errorf("kid %q is not in the JWKS", h.KeyID)
	}
	if keys[0].Algorithm != h.Algorithm {
		return c, h, fmt.Errorf("alg %s but the key is %s", h.Algorithm, keys[0].Algorithm)
	}
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		return c, h, fmt.Errorf("signature: %w", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, 0); err != nil {
		return c, h, fmt.Errorf("claims: %w", err)
	}
	return c, h, nil
}
