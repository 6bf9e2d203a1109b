package clientauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
)

// Client authentication methods (RFC 7591 §2, RFC 7523 §2.2).
const (
	AuthMethodBasic           = "client_secret_basic"
	AuthMethodPost            = "client_secret_post"
	AuthMethodPrivateKeyJWT   = "private_key_jwt"
	AuthMethodClientSecretJWT = "client_secret_jwt"
)

// singleValued are the token request parameters that RFC 6749 §3.2 forbids
// repeating ("Request and response parameters MUST NOT be included more
// than once"). audience (RFC 8693) and resource (RFC 8707) may repeat.
var singleValued = []string{
	"grant_type", "scope", "client_id", "client_secret",
	"client_assertion", "client_assertion_type", "assertion",
	"customer_id", "username", "password", "response_mode",
}

// Authenticator authenticates the client of a token request (RFC 6749
// §2.3). It is fosite's ClientAuthenticationStrategy, so that we, not
// fosite, decide how secrets are compared, which secret matched, and what a
// failure reveals: nothing. An unknown client, a disabled app, a wrong,
// expired or discarded secret and a malformed one all get the same
// invalid_client.
type Authenticator struct {
	clients *clients.Cache
	usage   *clients.UsageRecorder
	now     func() time.Time
	// assertions verifies client assertions (RFC 7523 §2.2); nil refuses
	// them. Set by UseAssertions.
	assertions *assertion.Verifier
}

// NewAuthenticator returns an authenticator over the client cache.
func NewAuthenticator(clients *clients.Cache, usage *clients.UsageRecorder, now func() time.Time) *Authenticator {
	return &Authenticator{clients: clients, usage: usage, now: now}
}

// Failed is the one answer to every failed client
// authentication (RFC 6749 §5.2 invalid_client, 401).
func Failed() error {
	return fosite.ErrInvalidClient.WithDescription("Client authentication failed.")
}

// Authenticate implements fosite.ClientAuthenticationStrategy. It returns a
// *Client, or a fosite error: invalid_request for a repeated parameter or
// more than one authentication method (RFC 6749 §2.3: "The client MUST NOT
// use more than one authentication method in each request") or for any
// credential sent by a browser (docs/credentials.md, "Browsers"),
// invalid_client (401) for
// anything wrong with the credentials or none at all,
// temporarily_unavailable (503) when the store cannot answer. A
// client_assertion (RFC 7523 §2.2) is checked by authenticateAssertion.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if err := CheckRepeated(form); err != nil {
		return nil, err
	}
	basicID, basicSecret, hasBasic := r.BasicAuth()
	_, hasPostSecret := form["client_secret"]
	_, hasAssertion := form["client_assertion"]
	methods := 0
	for _, has := range []bool{hasBasic, hasPostSecret, hasAssertion} {
		if has {
			methods++
		}
	}
	if methods > 1 {
		return nil, fosite.ErrInvalidRequest.WithHint("The client must use exactly one authentication method.")
	}
	if methods > 0 && fromBrowser(r) {
		return nil, errBrowserCredential()
	}
	switch {
	case hasAssertion:
		return a.authenticateAssertion(ctx, form)
	case hasBasic:
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic.
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return nil, Failed()
		}
		if formID := form.Get("client_id"); formID != "" && formID != id {
			return nil, fosite.ErrInvalidRequest.WithHint("The client_id parameter does not match the authenticated client.")
		}
		return a.authenticateSecret(ctx, id, secret, AuthMethodBasic)
	case hasPostSecret:
		return a.authenticateSecret(ctx, form.Get("client_id"), form.Get("client_secret"), AuthMethodPost)
	default:
		return nil, Failed()
	}
}

// authenticateSecret checks secret against every usable secret of the app
// in constant time. It always computes the digest and walks every secret,
// so that the answer time says little about why it failed.
func (a *Authenticator) authenticateSecret(ctx context.Context, id, secret, method string) (fosite.Client, error) {
	digest := credential.Digest(secret)
	if id == "" || len(id) > credential.MaxAppIDLen || credential.EnvOf(id) == "" {
		return nil, Failed()
	}
	entry, err := a.clients.Get(ctx, id)
	if errors.Is(err, authserver.ErrStoreUnavailable) {
		return nil, clients.UnavailableError()
	}
	if err != nil || !entry.App().Enabled {
		return nil, Failed()
	}
	app := entry.App()
	wellFormed := credential.WellFormed(secret, credential.SecretPrefix(app.Environment))
	now := a.now()
	matched := entry.MatchSecret(digest, now)
	if matched == "" || !wellFormed {
		return nil, Failed()
	}
	client := clients.NewClient(app)
	client.SecretID, client.AuthMethod = matched, method
	client.RecordUse = func() { a.usage.Touch(app.ID, matched, now) }
	return client, nil
}

// CheckRepeated refuses a repeated parameter (RFC 6749 §3.2). The client
// authenticator checks it too, but fosite ignores its error for grants
// that may skip client authentication.
func CheckRepeated(form url.Values) error {
	for _, p := range singleValued {
		if len(form[p]) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The '%s' parameter must not be included more than once.", p)
		}
	}
	return nil
}

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// UseAssertions enables client authentication by JWT (private_key_jwt and
// client_secret_jwt, RFC 7523 §2.2) through as. Without it a
// client_assertion gets invalid_client.
func (a *Authenticator) UseAssertions(as *assertion.Verifier) { a.assertions = as }

// authenticateAssertion authenticates a client by the JWT in
// client_assertion: signed with one of the app's registered public keys
// (private_key_jwt) or, HS256, with one of its sealed secrets
// (client_secret_jwt). Its jti is recorded here, once every check has
// passed: authenticating is using the assertion (RFC 7523 §3 item 7), at
// the token endpoint as at introspection and revocation, which answer as
// soon as the client is authenticated. A request refused before that
// leaves no record; one refused afterwards (a scope the app may not have)
// has used the assertion. Errors: invalid_request for a missing or unknown
// client_assertion_type, invalid_client for everything about the
// assertion (a jti used before included), temporarily_unavailable when
// the store cannot answer.
func (a *Authenticator) authenticateAssertion(ctx context.Context, form url.Values) (fosite.Client, error) {
	if a.assertions == nil {
		return nil, fosite.ErrInvalidClient.WithHint("Client assertions are not supported.")
	}
	if t := form.Get("client_assertion_type"); t != ClientAssertionType {
		return nil, fosite.ErrInvalidRequest.WithHintf("The client_assertion_type must be '%s'.", ClientAssertionType)
	}
	va, err := a.assertions.Verify(ctx, form.Get("client_assertion"), assertion.ClientAssertion)
	if err != nil {
		return nil, err
	}
	if id := form.Get("client_id"); id != "" && id != va.App.ID {
		return nil, fosite.ErrInvalidClient.WithHint("The client_id parameter does not match the client assertion's iss.")
	}
	if err := va.JTI.Consume(ctx); err != nil {
		return nil, err
	}
	client := clients.NewClient(va.App)
	client.AuthMethod, client.AssertionKey = AuthMethodPrivateKeyJWT, va.Signer.KeyThumbprint
	if va.Signer.SecretID != "" {
		client.SecretID, client.AuthMethod = va.Signer.SecretID, AuthMethodClientSecretJWT
		client.RecordUse = a.assertions.SecretUse(va)
	}
	return client, nil
}

// fromBrowser reports whether r was sent by a web browser, by the headers
// that browsers send and server-side HTTP clients do not:
//
//   - Origin: browsers send it with every POST and every cross-origin
//     request (Fetch §3.1, "append a request Origin header"), also over
//     plain http to a host that is not potentially trustworthy, where they
//     send no Sec-Fetch-* at all.
//   - Sec-Fetch-Site, Sec-Fetch-Dest, Sec-Fetch-User (Fetch Metadata):
//     browsers send Site and Dest with every request to a potentially
//     trustworthy URL, User with user-activated navigations.
//
// Sec-Fetch-Mode alone decides nothing: Node's fetch (undici) sends
// "Sec-Fetch-Mode: cors" on every request and nothing else of Fetch
// Metadata, while a browser never sends it without Sec-Fetch-Site. The
// User-Agent decides nothing either: any client may send any value. The
// header sets this is held to are in browser_test.go.
func fromBrowser(r *http.Request) bool {
	h := r.Header
	return h.Get("Origin") != "" || h.Get("Sec-Fetch-Site") != "" || h.Get("Sec-Fetch-Dest") != "" || h.Get("Sec-Fetch-User") != ""
}

// errBrowserCredential refuses an app credential sent by a browser
// (docs/credentials.md, "Browsers": app and account credentials are for
// server-to-server calls only and never served to a browser). It is why the token endpoint never answers a
// browser for the client credentials grant.
func errBrowserCredential() error {
	return fosite.ErrInvalidRequest.WithHint("App credentials may not be used from a browser; a browser may hold only appUser tokens.")
}

// PresentsCredentials reports whether the token request carries a
// client credential (HTTP Basic, client_secret or client_assertion). The
// grants whose client authentication is optional (the JWT bearer grant,
// RFC 7523 §3.1; the test-user login) require it to be valid when present.
func PresentsCredentials(ctx context.Context, request fosite.AccessRequester) bool {
	form := request.GetRequestForm()
	if form.Has("client_secret") || form.Has("client_assertion") {
		return true
	}
	if r, ok := ctx.Value(fosite.RequestContextKey).(*http.Request); ok {
		if _, _, basic := r.BasicAuth(); basic {
			return true
		}
	}
	return false
}
