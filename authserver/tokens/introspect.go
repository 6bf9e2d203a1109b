package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/signingkeys"
)

// clockLeeway is how far in the future an iat or nbf may lie: another
// instance's clock may run a little ahead of ours.
const clockLeeway = time.Minute

// errInactive is why a token is not active; it never leaves this package
// (RFC 7662 §2.2: an inactive token gets {"active": false} and nothing
// more).
var errInactive = errors.New("token is not active")

// tokenClaims are the claims of one of our access tokens (RFC 9068 §2.2),
// as read back from its payload.
type tokenClaims struct {
	Issuer          string   `json:"iss"`
	Subject         string   `json:"sub"`
	Audience        audience `json:"aud"`
	ExpiresAt       *float64 `json:"exp"`
	IssuedAt        *float64 `json:"iat"`
	NotBefore       *float64 `json:"nbf"`
	JTI             string   `json:"jti"`
	ClientID        string   `json:"client_id"`
	Scope           string   `json:"scope"`
	CredentialScope string   `json:"credential_scope"`
	SecretID        string   `json:"secret_id"`
	AssertionKey    string   `json:"assertion_key"`
	Confirmation    struct {
		JKT string `json:"jkt"`
	} `json:"cnf"`
}

// audience is "aud": a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = many
	return nil
}

// parseAccessToken verifies token's signature with the published key its
// header names (KeyManager.Verify: a discarded, deleted or unknown key
// fails, and the header, which the server rendered, makes it an RFC 9068
// access token, typ at+jwt) and decodes its claims. It checks no claim:
// callers do.
func parseAccessToken(keys *signingkeys.KeyManager, token string) (tokenClaims, error) {
	var c tokenClaims
	payload, err := keys.Verify(token)
	if err != nil {
		return c, errInactive
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, errInactive
	}
	return c, nil
}

// unixTime turns a NumericDate (RFC 7519 §2) into a time; ok is false for
// a missing or non-finite one.
func unixTime(v *float64) (time.Time, bool) {
	if v == nil || *v != *v || *v < 0 || *v > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(*v), 0), true
}

// Introspection is the answer of the introspection endpoint (RFC 7662
// §2.2). An inactive token is {"active": false} and nothing else; an
// active one carries its claims: scope, client_id, sub, aud, exp, iat,
// nbf, iss, jti, token_type and the credential_scope (docs/credentials.md,
// "Scopes of a credential"). token_type is "Bearer", or "DPoP" for a
// DPoP-bound token, which also carries cnf: {"jkt": thumbprint} (RFC 9449
// §6.2), so that a resource server that introspects checks the proof's
// key against it. Times are seconds since the epoch.
type Introspection struct {
	Active          bool     `json:"active"`
	Scope           string   `json:"scope,omitempty"`
	ClientID        string   `json:"client_id,omitempty"`
	Subject         string   `json:"sub,omitempty"`
	Audience        []string `json:"aud,omitempty"`
	ExpiresAt       int64    `json:"exp,omitempty"`
	IssuedAt        int64    `json:"iat,omitempty"`
	NotBefore       int64    `json:"nbf,omitempty"`
	Issuer          string   `json:"iss,omitempty"`
	JTI             string   `json:"jti,omitempty"`
	TokenType       string   `json:"token_type,omitempty"`
	CredentialScope string   `json:"credential_scope,omitempty"`
	// Confirmation is cnf, nil for a Bearer token.
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf member of a DPoP-bound token's introspection
// (RFC 9449 §6.2): the RFC 7638 SHA-256 thumbprint of its key, base64url.
type Confirmation struct {
	JKT string `json:"jkt"`
}

// AppendJSON appends i as encoding/json writes it, byte for byte (members
// in field order, the omitempty ones left out when empty, strings escaped
// as encoding/json escapes them), without reflection: the introspection
// endpoint writes one per call.
func (i *Introspection) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"active":`...)
	dst = strconv.AppendBool(dst, i.Active)
	dst = appendStringMember(dst, "scope", i.Scope)
	dst = appendStringMember(dst, "client_id", i.ClientID)
	dst = appendStringMember(dst, "sub", i.Subject)
	if len(i.Audience) > 0 {
		dst = append(dst, `,"aud":[`...)
		for j, a := range i.Audience {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, a)
		}
		dst = append(dst, ']')
	}
	dst = appendIntMember(dst, "exp", i.ExpiresAt)
	dst = appendIntMember(dst, "iat", i.IssuedAt)
	dst = appendIntMember(dst, "nbf", i.NotBefore)
	dst = appendStringMember(dst, "iss", i.Issuer)
	dst = appendStringMember(dst, "jti", i.JTI)
	dst = appendStringMember(dst, "token_type", i.TokenType)
	dst = appendStringMember(dst, "credential_scope", i.CredentialScope)
	if i.Confirmation != nil {
		dst = append(dst, `,"cnf":{"jkt":`...)
		dst = appendJSONString(dst, i.Confirmation.JKT)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendStringMember appends ,"name":v unless v is empty (omitempty).
func appendStringMember(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendJSONString(dst, v)
}

// appendIntMember appends ,"name":v unless v is zero (omitempty).
func appendIntMember(dst []byte, name string, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendInt(dst, v, 10)
}

// Introspector answers whether an access token is active right now, from
// memory only: the signing keys (KeyManager), the apps and their secrets
// (clients.Cache, one database read on a miss) and the revoked jtis
// (Revocations). It is the online check that sees at once what offline
// verifiers see only at exp: a revoked token, a discarded or deleted
// signing key or secret, a disabled app.
type Introspector struct {
	keys        *signingkeys.KeyManager
	clients     *clients.Cache
	revocations *Revocations
	issuer      string
	now         func() time.Time

	active, inactive atomic.Uint64
}

// NewIntrospector returns an introspector for tokens of issuer.
func NewIntrospector(keys *signingkeys.KeyManager, clients *clients.Cache, revocations *Revocations, issuer string, now func() time.Time) *Introspector {
	return &Introspector{keys: keys, clients: clients, revocations: revocations, issuer: issuer, now: now}
}

// Introspect returns the introspection of token (RFC 7662 §2.2). It is
// inactive for anything but a well-formed access token of this issuer,
// signed by a published key, within its lifetime, not revoked, whose app
// exists and is enabled, whose assertion key (assertion_key) is still
// registered, and whose secret (secret_id) still exists and is
// not discarded. The only error is ErrStoreUnavailable (wrapped in a
// fosite temporarily_unavailable), when the answer depends on a database
// that has been unreachable for longer than the caches may be trusted: a
// false "inactive" would be as wrong as a false "active".
func (in *Introspector) Introspect(ctx context.Context, token string) (Introspection, error) {
	res, err := in.introspect(ctx, token)
	switch {
	case errors.Is(err, errInactive):
		in.inactive.Add(1)
		return Introspection{Active: false}, nil
	case err != nil:
		return Introspection{Active: false}, clients.UnavailableError()
	}
	in.active.Add(1)
	return res, nil
}

func (in *Introspector) introspect(ctx context.Context, token string) (Introspection, error) {
	c, err := parseAccessToken(in.keys, token)
	if err != nil {
		return Introspection{}, err
	}
	now := in.now()
	exp, ok := unixTime(c.ExpiresAt)
	if !ok || !now.Before(exp) || c.Issuer != in.issuer || c.JTI == "" || c.ClientID == "" {
		return Introspection{}, errInactive
	}
	iat, hasIAT := unixTime(c.IssuedAt)
	if hasIAT && iat.After(now.Add(clockLeeway)) {
		return Introspection{}, errInactive
	}
	nbf, hasNBF := unixTime(c.NotBefore)
	if hasNBF && nbf.After(now.Add(clockLeeway)) {
		return Introspection{}, errInactive
	}
	revoked, err := in.revocations.IsRevoked(c.JTI)
	if err != nil {
		return Introspection{}, err
	}
	if revoked {
		return Introspection{}, errInactive
	}
	// docs/credentials.md, "Expiry": deleting a secret invalidates every
	// token minted with it;
	// discarding it, or disabling the app, does too until undone; so does
	// removing the assertion key the token was obtained with.
	backed, err := in.clients.CredentialActive(ctx, c.ClientID, c.SecretID, c.AssertionKey)
	if err != nil {
		return Introspection{}, err
	}
	if !backed {
		return Introspection{}, errInactive
	}
	res := Introspection{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject,
		Audience: c.Audience, ExpiresAt: exp.Unix(), Issuer: c.Issuer, JTI: c.JTI,
		TokenType: TokenTypeBearer, CredentialScope: c.CredentialScope,
	}
	if jkt := c.Confirmation.JKT; jkt != "" {
		res.TokenType, res.Confirmation = TokenTypeDPoP, &Confirmation{JKT: jkt}
	}
	if hasIAT {
		res.IssuedAt = iat.Unix()
	}
	if hasNBF {
		res.NotBefore = nbf.Unix()
	}
	return res, nil
}

// Counts returns how many introspections answered active and inactive.
func (in *Introspector) Counts() (active, inactive uint64) {
	return in.active.Load(), in.inactive.Load()
}
