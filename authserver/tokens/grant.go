package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/clients"
)

// ErrInvalidTarget is RFC 8707 §2's error for a resource or audience the
// client may not have.
var ErrInvalidTarget = &fosite.RFC6749Error{
	ErrorField:       "invalid_target",
	DescriptionField: "The requested resource is invalid, missing, unknown, or malformed.",
	CodeField:        http.StatusBadRequest,
}

// TokenPolicy holds the decisions common to every grant: issuer, default
// audience and lifetimes.
type TokenPolicy struct {
	// Issuer is the "iss" of every token (RFC 8414 issuer identifier).
	Issuer string
	// DefaultAudience is the "aud" of a token whose client requested none
	// and whose app allows none (RFC 9068 §3: a default resource).
	DefaultAudience string
	// AccessTokenLifetime is the default lifetime of app tokens.
	AccessTokenLifetime time.Duration
	// UserTokenLifetime is the default lifetime of appUser tokens.
	UserTokenLifetime time.Duration
	// Now is the clock of iat and exp.
	Now func() time.Time
}

// grantScopes checks the requested scopes against the app's allowed ones
// (RFC 6749 §3.3, exact match) and grants them; none requested grants all
// the app's scopes. It returns invalid_scope for a malformed or disallowed
// scope.
func grantScopes(request fosite.AccessRequester, allowed []string) error {
	requested := request.GetRequestedScopes()
	for _, s := range requested {
		if !clients.ValidScope(s) {
			return fosite.ErrInvalidScope.WithHint("A requested scope contains characters RFC 6749 §3.3 does not allow.")
		}
		if !slices.Contains(allowed, s) {
			return fosite.ErrInvalidScope.WithHintf("The client may not request scope '%s'.", s)
		}
	}
	if len(requested) == 0 {
		requested = allowed
	}
	for _, s := range requested {
		request.GrantScope(s)
	}
	return nil
}

// grantAudience checks the requested audiences (the "audience" parameter
// and RFC 8707 "resource" indicators, which must be absolute URIs without a
// fragment) against the app's allowed ones and grants them. None requested
// grants the app's allowed audiences, or the policy default if it has none.
func (p *TokenPolicy) grantAudience(request fosite.AccessRequester, form url.Values, allowed []string) error {
	requested := append([]string(nil), request.GetRequestedAudience()...)
	for _, r := range form["resource"] {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return ErrInvalidTarget.WithHint("A resource must be an absolute URI without a fragment (RFC 8707 §2).")
		}
		if !slices.Contains(requested, r) {
			requested = append(requested, r)
		}
	}
	for _, a := range requested {
		if !slices.Contains(allowed, a) {
			return ErrInvalidTarget.WithHint("The client may not request that audience.")
		}
	}
	switch {
	case len(requested) > 0:
	case len(allowed) > 0:
		requested = allowed
	default:
		requested = []string{p.DefaultAudience}
	}
	for _, a := range requested {
		request.GrantAudience(a)
	}
	return nil
}

// newJTI returns a token id of 128 random bits, base64url.
func newJTI() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ClientCredentialsGrant is the client credentials grant (RFC 6749 §4.4)
// as a fosite token endpoint handler. It issues a stateless JWT access
// token (RFC 9068) and writes nothing to the database.
type ClientCredentialsGrant struct {
	Policy   *TokenPolicy
	Strategy *AccessTokenStrategy
	// DPoP binds the token to the key of the request's DPoP proof, if
	// any (RFC 9449); nil binds nothing.
	DPoP *DPoP
}

var _ fosite.TokenEndpointHandler = (*ClientCredentialsGrant)(nil)

// CanHandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
func (g *ClientCredentialsGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne("client_credentials")
}

// CanSkipClientAuth implements fosite.TokenEndpointHandler: never.
func (g *ClientCredentialsGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler: it
// checks the DPoP proof and decides scope, audience and lifetime.
// Errors: invalid_dpop_proof, use_dpop_nonce, invalid_scope,
// invalid_target.
func (g *ClientCredentialsGrant) HandleTokenEndpointRequest(ctx context.Context, request fosite.AccessRequester) error {
	client, ok := request.GetClient().(*clients.Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected client type")
	}
	app := client.App()
	if err := g.DPoP.check(ctx, request, app); err != nil {
		return err
	}
	if err := grantScopes(request, app.Scopes); err != nil {
		return err
	}
	if err := g.Policy.grantAudience(request, request.GetRequestForm(), app.Audiences); err != nil {
		return err
	}
	lifetime := g.Policy.AccessTokenLifetime
	if app.AccessTokenLifetime > 0 {
		lifetime = app.AccessTokenLifetime
	}
	now := g.Policy.Now().UTC().Truncate(time.Second)
	sess, ok := request.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sess.Claims = AccessTokenClaims{
		Issuer:          g.Policy.Issuer,
		Subject:         app.ID,
		ClientID:        app.ID,
		IssuedAt:        now,
		JTI:             newJTI(),
		CredentialScope: CredentialScopeApp,
		SecretID:        client.SecretID,
		AssertionKey:    client.AssertionKey,
	}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(lifetime))
	return nil
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler: it
// signs the token (no storage call, but the DPoP proof's replay record
// when the replay cache is the database) and fills access_token,
// token_type, expires_in (seconds) and scope.
func (g *ClientCredentialsGrant) PopulateTokenEndpointResponse(ctx context.Context, request fosite.AccessRequester, response fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, request) {
		return fosite.ErrUnknownRequest
	}
	return issue(ctx, g.Strategy, request, response)
}

// issue signs the access token of request and writes the response fields:
// a request with a verified DPoP proof gets a token bound to its key
// (cnf.jkt, RFC 9449 §6.1) of token_type DPoP (§5), any other a Bearer
// token. The proof is recorded first, then the user assertions: a
// replayed proof uses up no assertion.
func issue(ctx context.Context, strategy *AccessTokenStrategy, request fosite.AccessRequester, response fosite.AccessResponder) error {
	tokenType := TokenTypeBearer
	if s, ok := request.GetSession().(*Session); ok && s.dpop != nil {
		if err := s.dpop.consume(ctx); err != nil {
			return err
		}
		s.Claims.ConfirmationJKT, tokenType = s.dpop.jkt, TokenTypeDPoP
	}
	if err := consumeAssertions(ctx, request); err != nil {
		return err
	}
	token, _, err := strategy.GenerateAccessToken(ctx, request)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if c, ok := request.GetClient().(*clients.Client); ok {
		c.MarkUsed()
	}
	sess := request.GetSession()
	response.SetAccessToken(token)
	response.SetTokenType(tokenType)
	response.SetExpiresIn(sess.GetExpiresAt(fosite.AccessToken).Sub(sess.(*Session).Claims.IssuedAt))
	// RFC 6749 §5.1: scope may be left out when it is what was asked
	// for; with none granted (none asked, none allowed) an empty string
	// would only say so less clearly.
	if granted := request.GetGrantedScopes(); len(granted) > 0 {
		response.SetScopes(granted)
	}
	return nil
}

// UnsupportedGrant answers unsupported_grant_type (RFC 6749 §5.2) for any
// grant type the handlers before it do not serve; fosite alone would say
// invalid_request. It must be the last token endpoint handler.
type UnsupportedGrant struct {
	// Supported are the grant types served by the other handlers.
	Supported []string
}

var _ fosite.TokenEndpointHandler = (*UnsupportedGrant)(nil)

// CanHandleTokenEndpointRequest is true when no supported grant type is
// requested.
func (u *UnsupportedGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	for _, g := range u.Supported {
		if r.GetGrantTypes().ExactOne(g) {
			return false
		}
	}
	return true
}

// CanSkipClientAuth is false: an unauthenticated client gets invalid_client
// first.
func (u *UnsupportedGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

// HandleTokenEndpointRequest always fails with unsupported_grant_type.
func (u *UnsupportedGrant) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnsupportedGrantType
}

// PopulateTokenEndpointResponse is never reached for its requests.
func (u *UnsupportedGrant) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	return fosite.ErrUnknownRequest
}

// consumeAssertions records the jti of every user assertion the request
// used just before its token is issued (a client assertion's was recorded
// when it authenticated the client). Of two concurrent requests with one
// assertion exactly one gets here first; the other fails with
// invalid_grant.
func consumeAssertions(ctx context.Context, request fosite.AccessRequester) error {
	s, ok := request.GetSession().(*Session)
	if !ok {
		return nil
	}
	for _, p := range s.assertions {
		if err := p.Consume(ctx); err != nil {
			return err
		}
	}
	return nil
}
