package tokens

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/clientauth"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/limits"
	"github.com/authserver/authserver/authserver/users"
	"github.com/authserver/authserver/storage"
)

// Grant types of POST /customer_authenticate. They are this
// server's own (RFC 6749 §4.5 extension grants, named by URN); a request
// that sends none gets one inferred from its parameters, see
// InferCustomerGrant.
const (
	// GrantTypeTestUser is the test-harness login: client_id (the public
	// App ID) with a test user's username and password. No client
	// authentication is needed; if a client credential is sent it must be
	// valid and name the same app.
	GrantTypeTestUser = "urn:authserver:params:oauth:grant-type:test-user"
	// GrantTypeDelegated is the delegated login: the app's backend,
	// authenticated with its app credential, names its already
	// authenticated user by customer_id (the app's own user id).
	GrantTypeDelegated = "urn:authserver:params:oauth:grant-type:delegated"
)

// CustomerGrantTypes are the grant types /customer_authenticate serves.
var CustomerGrantTypes = []string{GrantTypeTestUser, GrantTypeDelegated, clients.GrantTypeJWTBearer}

// InferCustomerGrant returns the grant type a /customer_authenticate
// request without grant_type means: the JWT bearer grant when it has an
// assertion, the test-user login when it has a username, the delegated
// login when it has a customer_id; "" otherwise.
func InferCustomerGrant(has func(param string) bool) string {
	switch {
	case has("assertion"):
		return clients.GrantTypeJWTBearer
	case has("username"):
		return GrantTypeTestUser
	case has("customer_id"):
		return GrantTypeDelegated
	}
	return ""
}

// UserTokens decides the claims of appUser tokens (one end user of one
// app), whichever way the user was named: sub is the user's opaque
// customer identifier, scope and audience are those the app may
// have, the lifetime is the app's user-token lifetime or the server
// default (15m). Like every token, it is stateless: nothing is written.
type UserTokens struct {
	Policy   *TokenPolicy
	Strategy *AccessTokenStrategy
	Subjects *users.Subjects
	// DPoP binds the token to the key of the request's DPoP proof, if
	// any (RFC 9449); nil binds nothing.
	DPoP *DPoP
}

// tokenCredentials are the app credentials a token is issued on, which it
// records (secret_id, assertion_key) so that introspection can tell when
// one is gone (clients.Cache.CredentialActive).
type tokenCredentials struct {
	secretID     string
	assertionKey string
}

// credentialsOf returns the credential client authenticated with.
func credentialsOf(c *clients.Client) tokenCredentials {
	return tokenCredentials{secretID: c.SecretID, assertionKey: c.AssertionKey}
}

// grantUser fills the session of request for userID of app, deriving the
// opaque identifier.
func (u *UserTokens) grantUser(ctx context.Context, request fosite.AccessRequester, app *storage.App, userID string, cred tokenCredentials) error {
	sub, err := u.Subjects.Subject(ctx, app, userID)
	if e := authserver.AsError(err); e != nil && e.Kind == authserver.KindInvalid {
		return fosite.ErrInvalidRequest.WithHint(e.Message)
	}
	if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithHint("The user's identifier cannot be derived right now; retry later.").WithWrap(err)
	}
	return u.grantSubject(request, app, sub, cred)
}

// grantSubject fills the session of request with an appUser token for the
// opaque identifier sub. cred names the app secret and assertion key
// involved, if any, so that deleting either can invalidate the token.
func (u *UserTokens) grantSubject(request fosite.AccessRequester, app *storage.App, sub string, cred tokenCredentials) error {
	if err := grantScopes(request, app.Scopes); err != nil {
		return err
	}
	if err := u.Policy.grantAudience(request, request.GetRequestForm(), app.Audiences); err != nil {
		return err
	}
	sess, ok := request.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	lifetime := u.Policy.UserTokenLifetime
	if app.UserTokenLifetime > 0 {
		lifetime = app.UserTokenLifetime
	}
	now := u.Policy.Now().UTC().Truncate(time.Second)
	sess.Claims = AccessTokenClaims{
		Issuer: u.Policy.Issuer, Subject: sub, ClientID: app.ID, IssuedAt: now, JTI: newJTI(),
		CredentialScope: CredentialScopeAppUser, SecretID: cred.secretID, AssertionKey: cred.assertionKey,
	}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(lifetime))
	// The request names its app even when no client authenticated (fosite
	// then leaves an empty DefaultClient), so that the endpoint can answer
	// CORS for it.
	if ar, ok := request.(*fosite.AccessRequest); ok {
		if _, authenticated := ar.Client.(*clients.Client); !authenticated {
			ar.Client = clients.NewClient(app)
		}
	}
	return nil
}

// requestOf returns the HTTP request fosite is serving, nil if none.
func requestOf(ctx context.Context) *http.Request {
	r, _ := ctx.Value(fosite.RequestContextKey).(*http.Request)
	return r
}

// checkOrigin refuses a browser request whose Origin the app does not
// allow (appUser credentials go to the app's own front end only).
// Requests without Origin are server-to-server and pass.
func checkOrigin(ctx context.Context, app *storage.App) error {
	r := requestOf(ctx)
	if r == nil {
		return nil
	}
	if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(app.Origins, origin) {
		return fosite.ErrInvalidRequest.WithHint("The request's Origin is not one the app allows.")
	}
	return nil
}

// TestUserGrant is the test-harness login of /customer_authenticate
// (GrantTypeTestUser) as a fosite token endpoint handler: a test user's
// username and password for an appUser token. Every failure of the
// credentials is the same invalid_grant (RFC 6749 §5.2); an unknown or
// disabled app is invalid_client; an app that is not a test app, which
// cannot have test users, is unauthorized_client. Nothing but a login of
// a test app that the limiter lets through costs a password hash.
type TestUserGrant struct {
	Users     *UserTokens
	TestUsers *users.TestUsers
	Clients   *clients.Cache
	// Limiter, if set, limits password guessing: it is asked before the
	// password is hashed and told of every wrong one.
	Limiter LoginGuard
}

// LoginGuard limits password guessing at the test-user login;
// *limits.LoginLimiter is one. Begin returns the error to answer (429)
// when a login may not be evaluated now; otherwise done must be called
// once with the outcome (true: a wrong password). It reads the request's
// source from ctx.
type LoginGuard interface {
	Begin(ctx context.Context, appID, username string) (done func(failed bool), err error)
}

var (
	_ fosite.TokenEndpointHandler = (*TestUserGrant)(nil)
	_ LoginGuard                  = (*limits.LoginLimiter)(nil)
)

// CanHandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
func (g *TestUserGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(GrantTypeTestUser)
}

// CanSkipClientAuth implements fosite.TokenEndpointHandler: the App ID
// names the app; a client credential, if sent, must be valid.
func (g *TestUserGrant) CanSkipClientAuth(ctx context.Context, r fosite.AccessRequester) bool {
	return !clientauth.PresentsCredentials(ctx, r)
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
// Errors: invalid_request (missing parameter, disallowed Origin),
// invalid_client, unauthorized_client (not a test app),
// invalid_dpop_proof, use_dpop_nonce, invalid_grant, invalid_scope,
// invalid_target, temporarily_unavailable (503, or 429 from the limiter).
func (g *TestUserGrant) HandleTokenEndpointRequest(ctx context.Context, request fosite.AccessRequester) error {
	form := request.GetRequestForm()
	if err := clientauth.CheckRepeated(form); err != nil {
		return err
	}
	appID := form.Get("client_id")
	if c, ok := request.GetClient().(*clients.Client); ok {
		if appID != "" && appID != c.GetID() {
			return fosite.ErrInvalidRequest.WithHint("The client_id parameter does not match the authenticated client.")
		}
		appID = c.GetID()
	}
	username, password := form.Get("username"), form.Get("password")
	if appID == "" || username == "" || password == "" {
		return fosite.ErrInvalidRequest.WithHint("The client_id, username and password parameters are required.")
	}
	if len(appID) > credential.MaxAppIDLen || credential.EnvOf(appID) == "" {
		return clientauth.Failed()
	}
	entry, err := g.Clients.Get(ctx, appID)
	if errors.Is(err, authserver.ErrStoreUnavailable) {
		return clients.UnavailableError()
	}
	if err != nil || !entry.App().Enabled {
		return clientauth.Failed()
	}
	app := entry.App()
	if app.Environment != credential.EnvTest {
		return fosite.ErrUnauthorizedClient.WithHint("Test-user logins are for test-environment apps only.")
	}
	if err := checkOrigin(ctx, app); err != nil {
		return err
	}
	// Before the limiter and the password hash: a refused proof costs
	// neither a hash nor a guess.
	if err := g.Users.DPoP.check(ctx, request, app); err != nil {
		return err
	}
	done := func(bool) {}
	if g.Limiter != nil {
		var err error
		if done, err = g.Limiter.Begin(ctx, app.ID, username); err != nil {
			return err
		}
	}
	user, err := g.TestUsers.Authenticate(ctx, app.ID, username, password)
	wrong := false
	if e := authserver.AsError(err); e != nil && e.Kind == authserver.KindUnauthenticated {
		wrong = true
	}
	done(wrong)
	if wrong {
		return fosite.ErrInvalidGrant.WithHint("The username or password is incorrect.")
	}
	if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithHint("The login cannot be checked right now; retry later.").WithWrap(err)
	}
	var cred tokenCredentials
	if c, ok := request.GetClient().(*clients.Client); ok {
		cred = credentialsOf(c)
	}
	return g.Users.grantSubject(request, app, user.Subject, cred)
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler.
func (g *TestUserGrant) PopulateTokenEndpointResponse(ctx context.Context, request fosite.AccessRequester, response fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, request) {
		return fosite.ErrUnknownRequest
	}
	return issue(ctx, g.Users.Strategy, request, response)
}

// DelegatedGrant is the delegated login of /customer_authenticate
// (GrantTypeDelegated) as a fosite token endpoint handler: the app's
// backend authenticates with its app credential (never from a browser)
// and names its user by customer_id, for which it gets that user's appUser
// token. The backend vouches for the user, as in secure mode, but with its
// credential rather than a signature over the user's id.
type DelegatedGrant struct {
	Users *UserTokens
}

var _ fosite.TokenEndpointHandler = (*DelegatedGrant)(nil)

// CanHandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
func (g *DelegatedGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(GrantTypeDelegated)
}

// CanSkipClientAuth implements fosite.TokenEndpointHandler: never.
func (g *DelegatedGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
// Errors: invalid_request (missing or malformed customer_id),
// invalid_dpop_proof, use_dpop_nonce, invalid_scope, invalid_target,
// temporarily_unavailable.
func (g *DelegatedGrant) HandleTokenEndpointRequest(ctx context.Context, request fosite.AccessRequester) error {
	client, ok := request.GetClient().(*clients.Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected client type")
	}
	customerID := request.GetRequestForm().Get("customer_id")
	if customerID == "" {
		return fosite.ErrInvalidRequest.WithHint("The customer_id parameter is required.")
	}
	// Before grantUser, which may store the app's customer key on first
	// use: a refused proof writes nothing.
	if err := g.Users.DPoP.check(ctx, request, client.App()); err != nil {
		return err
	}
	return g.Users.grantUser(ctx, request, client.App(), customerID, credentialsOf(client))
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler.
func (g *DelegatedGrant) PopulateTokenEndpointResponse(ctx context.Context, request fosite.AccessRequester, response fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, request) {
		return fosite.ErrUnknownRequest
	}
	return issue(ctx, g.Users.Strategy, request, response)
}

// JWTBearerGrant is the JWT bearer grant (RFC 7523 §2.1; secure
// mode) as a fosite token endpoint handler: the app's backend
// signs an assertion naming its user (iss = App ID, sub = the app's user
// id) with a registered key (RS256, ES256, ...) or one of its sealed
// secrets (HS256, kid = the secret id), and anyone holding the assertion,
// the user's browser included, exchanges it once for that user's appUser
// token. Client authentication is optional (§3.1); if present it must be
// valid and be the assertion's issuer.
type JWTBearerGrant struct {
	Users      *UserTokens
	Assertions *assertion.Verifier
}

var _ fosite.TokenEndpointHandler = (*JWTBearerGrant)(nil)

// CanHandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
func (g *JWTBearerGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(clients.GrantTypeJWTBearer)
}

// CanSkipClientAuth implements fosite.TokenEndpointHandler: yes, unless a
// client credential is sent.
func (g *JWTBearerGrant) CanSkipClientAuth(ctx context.Context, r fosite.AccessRequester) bool {
	return !clientauth.PresentsCredentials(ctx, r)
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
// Errors: invalid_request (no assertion, disallowed Origin), invalid_grant
// (anything wrong with the assertion: RFC 7523 §3.1), invalid_dpop_proof,
// use_dpop_nonce, invalid_scope, invalid_target, temporarily_unavailable.
func (g *JWTBearerGrant) HandleTokenEndpointRequest(ctx context.Context, request fosite.AccessRequester) error {
	if err := clientauth.CheckRepeated(request.GetRequestForm()); err != nil {
		return err
	}
	raw := request.GetRequestForm().Get("assertion")
	if raw == "" {
		return fosite.ErrInvalidRequest.WithHint("The assertion parameter is required.")
	}
	va, err := g.Assertions.Verify(ctx, raw, assertion.UserAssertion)
	if err != nil {
		return err
	}
	// The token records the credential that signed the assertion and,
	// where that leaves room, the one the client authenticated with.
	cred := tokenCredentials{secretID: va.Signer.SecretID, assertionKey: va.Signer.KeyThumbprint}
	if c, ok := request.GetClient().(*clients.Client); ok {
		if c.GetID() != va.App.ID {
			return fosite.ErrInvalidGrant.WithHint("The assertion's iss must be the authenticated client.")
		}
		if cred.secretID == "" {
			cred.secretID = c.SecretID
		}
		if cred.assertionKey == "" {
			cred.assertionKey = c.AssertionKey
		}
	}
	if err := checkOrigin(ctx, va.App); err != nil {
		return err
	}
	if err := g.Users.DPoP.check(ctx, request, va.App); err != nil {
		return err
	}
	if err := g.Users.grantUser(ctx, request, va.App, va.Subject, cred); err != nil {
		return err
	}
	sess := request.GetSession().(*Session) // grantUser checked the type
	sess.assertions = append(sess.assertions, va.JTI)
	// Without client authentication the request's client is the one
	// grantSubject named; the secret that signed the assertion was used.
	if c, ok := request.GetClient().(*clients.Client); ok && c.RecordUse == nil {
		c.RecordUse = g.Assertions.SecretUse(va)
	}
	return nil
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler.
func (g *JWTBearerGrant) PopulateTokenEndpointResponse(ctx context.Context, request fosite.AccessRequester, response fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, request) {
		return fosite.ErrUnknownRequest
	}
	return issue(ctx, g.Users.Strategy, request, response)
}
