package tokens

import (
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/authserver/authserver/authserver/assertion"
)

// Credential scopes (docs/credentials.md, "Scopes of a credential"): which
// kind of credential a token stands for.
// Every access token carries one in the credential_scope claim.
const (
	// CredentialScopeAccount: an account key; manages every app (admin API).
	CredentialScopeAccount = "account"
	// CredentialScopeApp: an app's secret key; server to server, one app.
	CredentialScopeApp = "app"
	// CredentialScopeAppUser: one end user of one app; the only kind a browser may hold.
	CredentialScopeAppUser = "appUser"
)

// Claim names beyond RFC 9068 §2.2.
const (
	ClaimCredentialScope = "credential_scope"
	// ClaimSecretID names the secret that authenticated the client which
	// obtained the token, so that discarding or deleting that secret can
	// invalidate the token (docs/credentials.md, "Expiry").
	ClaimSecretID = "secret_id"
	// ClaimAssertionKey names, by its RFC 7638 SHA-256 thumbprint
	// (base64url), the registered key that signed the assertion the
	// token was obtained with (private_key_jwt or a secure-mode user
	// assertion), so that removing that key can invalidate the token.
	ClaimAssertionKey = "assertion_key"
	// ClaimConfirmation is RFC 7800's confirmation claim. A DPoP-bound
	// token carries {"jkt": <RFC 7638 SHA-256 thumbprint of the client's
	// key, base64url>} in it (RFC 9449 §6.1), and only with a proof from
	// that key may it be used (§7).
	ClaimConfirmation = "cnf"
	// ConfirmationJKT is the member of cnf that names the key of a
	// DPoP-bound token (RFC 9449 §6.1).
	ConfirmationJKT = "jkt"
)

// AccessTokenClaims are the claims of an RFC 9068 access token: iss, sub,
// aud, exp, iat, jti, client_id, scope, and ours: credential_scope,
// secret_id and assertion_key; cnf for a DPoP-bound token (RFC 9449
// §6.1). Times are whole seconds since the epoch on the wire.
type AccessTokenClaims struct {
	Issuer          string
	Subject         string
	Audience        []string
	ExpiresAt       time.Time
	IssuedAt        time.Time
	JTI             string
	ClientID        string
	Scope           []string
	CredentialScope string
	SecretID        string
	AssertionKey    string
	// ConfirmationJKT, when set, binds the token to the DPoP key of that
	// RFC 7638 thumbprint: "cnf": {"jkt": ConfirmationJKT}.
	ConfirmationJKT string
}

var _ jwt.JWTClaimsContainer = (*AccessTokenClaims)(nil)

// With implements jwt.JWTClaimsContainer: fosite hands over the granted
// scope and audience and the session's expiry.
func (c *AccessTokenClaims) With(expiry time.Time, scope, audience []string) jwt.JWTClaimsContainer {
	c.ExpiresAt, c.Scope, c.Audience = expiry, scope, audience
	return c
}

// WithDefaults implements jwt.JWTClaimsContainer; values already set win.
func (c *AccessTokenClaims) WithDefaults(iat time.Time, issuer string) jwt.JWTClaimsContainer {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = iat
	}
	if c.Issuer == "" {
		c.Issuer = issuer
	}
	return c
}

// WithScopeField implements jwt.JWTClaimsContainer. The scope is always the
// space-delimited "scope" string of RFC 9068 §2.2.3.
func (c *AccessTokenClaims) WithScopeField(jwt.JWTScopeFieldEnum) jwt.JWTClaimsContainer { return c }

// ToMapClaims implements jwt.JWTClaimsContainer. "aud" is a string when
// there is one audience and an array otherwise (RFC 7519 §4.1.3); "scope"
// is left out when no scope was granted (RFC 9068 §2.2.3), rather than "".
func (c *AccessTokenClaims) ToMapClaims() jwt.MapClaims {
	m := jwt.MapClaims{
		"iss":       c.Issuer,
		"sub":       c.Subject,
		"exp":       c.ExpiresAt.Unix(),
		"iat":       c.IssuedAt.Unix(),
		"jti":       c.JTI,
		"client_id": c.ClientID,
	}
	if c.hasScope() {
		m["scope"] = strings.Join(c.Scope, " ")
	}
	if len(c.Audience) == 1 {
		m["aud"] = c.Audience[0]
	} else {
		m["aud"] = c.Audience
	}
	if c.CredentialScope != "" {
		m[ClaimCredentialScope] = c.CredentialScope
	}
	if c.SecretID != "" {
		m[ClaimSecretID] = c.SecretID
	}
	if c.AssertionKey != "" {
		m[ClaimAssertionKey] = c.AssertionKey
	}
	if c.ConfirmationJKT != "" {
		m[ClaimConfirmation] = map[string]any{ConfirmationJKT: c.ConfirmationJKT}
	}
	return m
}

// hasScope reports whether the joined scope is not empty.
func (c *AccessTokenClaims) hasScope() bool {
	return len(c.Scope) > 1 || len(c.Scope) == 1 && c.Scope[0] != ""
}

// appendJSON appends the claims as the JSON object encoding/json writes
// for ToMapClaims, byte for byte: members sorted by name, "aud" a string for
// one audience and an array (null when nil) otherwise, assertion_key,
// cnf, scope, credential_scope and secret_id only when set, times as whole
// seconds since the epoch (RFC 7519 §2 NumericDate).
func (c *AccessTokenClaims) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if c.AssertionKey != "" {
		dst = append(dst, `"assertion_key":`...)
		dst = appendJSONString(dst, c.AssertionKey)
		dst = append(dst, ',')
	}
	dst = append(dst, `"aud":`...)
	switch {
	case len(c.Audience) == 1:
		dst = appendJSONString(dst, c.Audience[0])
	case c.Audience == nil:
		dst = append(dst, "null"...)
	default:
		dst = append(dst, '[')
		for i, a := range c.Audience {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, a)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"client_id":`...)
	dst = appendJSONString(dst, c.ClientID)
	if c.ConfirmationJKT != "" {
		dst = append(dst, `,"cnf":{"jkt":`...)
		dst = appendJSONString(dst, c.ConfirmationJKT)
		dst = append(dst, '}')
	}
	if c.CredentialScope != "" {
		dst = append(dst, `,"credential_scope":`...)
		dst = appendJSONString(dst, c.CredentialScope)
	}
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, c.ExpiresAt.Unix(), 10)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, c.IssuedAt.Unix(), 10)
	dst = append(dst, `,"iss":`...)
	dst = appendJSONString(dst, c.Issuer)
	dst = append(dst, `,"jti":`...)
	dst = appendJSONString(dst, c.JTI)
	// "scope" is strings.Join(c.Scope, " ") as a JSON string; escaping
	// each part on its own gives the same bytes, since a space needs no
	// escape and cannot end or begin a multi-byte UTF-8 sequence.
	if c.hasScope() {
		dst = append(dst, `,"scope":"`...)
		for i, sc := range c.Scope {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = appendJSONStringBody(dst, sc)
		}
		dst = append(dst, '"')
	}
	if c.SecretID != "" {
		dst = append(dst, `,"secret_id":`...)
		dst = appendJSONString(dst, c.SecretID)
	}
	dst = append(dst, `,"sub":`...)
	dst = appendJSONString(dst, c.Subject)
	return append(dst, '}')
}

// Session is the fosite session of a token request: the claims our grant
// handlers decide. It implements oauth2.JWTSessionContainer: its claims
// are the ones fosite's JWT strategy would sign for the request, which
// AccessTokenStrategy signs without fosite's map of claims.
type Session struct {
	Claims    AccessTokenClaims
	header    jwt.Headers
	expiresAt map[fosite.TokenType]time.Time
	// assertions are the RFC 7523 user assertions whose jti is recorded
	// when the token is issued.
	assertions []*assertion.PendingJTI
	// dpop is the request's verified DPoP proof, nil without one: the
	// token is bound to its key when issued.
	dpop *boundProof
}

var _ oauth2.JWTSessionContainer = (*Session)(nil)

// NewSession returns an empty session for one token request.
func NewSession() *Session { return &Session{} }

// GetJWTClaims implements oauth2.JWTSessionContainer.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer { return &s.Claims }

// GetJWTHeader implements oauth2.JWTSessionContainer; the signer sets typ
// and kid itself.
func (s *Session) GetJWTHeader() *jwt.Headers { return &s.header }

// SetExpiresAt implements fosite.Session.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.expiresAt == nil {
		s.expiresAt = map[fosite.TokenType]time.Time{}
	}
	s.expiresAt[key] = exp
}

// GetExpiresAt implements fosite.Session.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time { return s.expiresAt[key] }

// GetUsername implements fosite.Session.
func (s *Session) GetUsername() string { return "" }

// GetSubject implements fosite.Session.
func (s *Session) GetSubject() string { return s.Claims.Subject }

// Clone implements fosite.Session with a deep copy.
func (s *Session) Clone() fosite.Session {
	c := *s
	c.Claims.Audience = append([]string(nil), s.Claims.Audience...)
	c.Claims.Scope = append([]string(nil), s.Claims.Scope...)
	c.assertions = append([]*assertion.PendingJTI(nil), s.assertions...)
	c.expiresAt = make(map[fosite.TokenType]time.Time, len(s.expiresAt))
	for k, v := range s.expiresAt {
		c.expiresAt[k] = v
	}
	return &c
}
