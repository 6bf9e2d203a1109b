package clients

import (
	"github.com/ory/fosite"

	"github.com/authserver/authserver/storage"
)

// Client is the fosite client of one authenticated token request: the app
// as cached, and how it authenticated.
type Client struct {
	app *storage.App
	// SecretID is the secret that authenticated the request, or "" when
	// the client authenticated with a private key.
	SecretID string
	// AssertionKey is the RFC 7638 thumbprint of the registered key that
	// signed the client assertion (private_key_jwt), else "".
	AssertionKey string
	// AuthMethod is the token_endpoint_auth_method used (RFC 7591 §2).
	AuthMethod string
	// RecordUse, if set, records the use of the secret that
	// authenticated the request (UsageRecorder.Touch); MarkUsed runs it
	// once a token is issued, so that a request refused after
	// authentication changes nothing.
	RecordUse func()
}

var _ fosite.Client = (*Client)(nil)

// NewClient returns the client of app with no credential recorded: the
// client a request names, authenticated or not; the authenticator fills
// in how it authenticated. app must not be modified.
func NewClient(app *storage.App) *Client { return &Client{app: app} }

// MarkUsed records that the client's credential obtained a token.
func (c *Client) MarkUsed() {
	if c.RecordUse != nil {
		c.RecordUse()
	}
}

// App returns the authenticated app. Callers must not modify it.
func (c *Client) App() *storage.App { return c.app }

// GetID implements fosite.Client: the App ID.
func (c *Client) GetID() string { return c.app.ID }

// GetHashedSecret implements fosite.Client. Client authentication is ours
// (clientauth.Authenticator), so fosite never compares secrets.
func (c *Client) GetHashedSecret() []byte { return nil }

// GetRedirectURIs implements fosite.Client: none, there are no redirect flows.
func (c *Client) GetRedirectURIs() []string { return nil }

// GetGrantTypes implements fosite.Client.
func (c *Client) GetGrantTypes() fosite.Arguments {
	return fosite.Arguments{"client_credentials", GrantTypeJWTBearer}
}

// GetResponseTypes implements fosite.Client: none.
func (c *Client) GetResponseTypes() fosite.Arguments { return nil }

// GetScopes implements fosite.Client: the scopes the app may request.
func (c *Client) GetScopes() fosite.Arguments { return c.app.Scopes }

// IsPublic implements fosite.Client: every app is confidential.
func (c *Client) IsPublic() bool { return false }

// GetAudience implements fosite.Client: the audiences the app may request.
func (c *Client) GetAudience() fosite.Arguments { return c.app.Audiences }

// GrantTypeJWTBearer is the JWT bearer grant of RFC 7523 §2.1.
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// ValidScope reports whether s is a scope an app may be allowed and a
// client may request: an RFC 6749 §3.3 scope-token, 1*( %x21 / %x23-5B /
// %x5D-7E ), of at most 256 bytes.
func ValidScope(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
