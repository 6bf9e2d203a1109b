package clientauth

import (
	"context"
	"net/http"
	"net/url"

	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/ory/fosite"
)

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

// errBrowserCredential refuses an app credential sent by a browser (seed
// 000: app and account credentials are for server-to-server calls only and
// never served to a browser). It is why the token endpoint never answers a
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
