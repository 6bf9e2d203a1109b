package server

import (
	"fmt"
	"net/http"

	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/clientauth"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/limits"
	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/authserver/users"
	"github.com/authserver/authserver/handlers"
	"github.com/authserver/authserver/verifier"
)

// userServices are the end-user parts: test users and their login
// limiter, customer identifiers, app-signed assertions, CORS origins.
type userServices struct {
	subjects      *users.Subjects
	testUsers     *users.TestUsers
	assertionKeys *apps.AssertionKeys
	assertions    *assertion.Verifier
	origins       *clients.Origins
	logins        *limits.LoginLimiter
}

// initUsers builds the end-user services; the Apps and caches exist by now.
func (s *Server) initUsers() {
	cfg := s.cfg
	a := cfg.Assertions
	u := &s.users
	u.subjects = users.NewSubjects(s.store, s.Clients, s.keyring)
	u.testUsers = users.NewTestUsers(s.store, u.subjects, s.Audit, s.now)
	l := cfg.Limits
	u.logins = limits.NewLoginLimiter(limits.LoginLimitConfig{
		UserBurst: l.LoginUserFailureBurst, UserInterval: l.LoginUserFailureInterval,
		SourceBurst: l.LoginSourceFailureBurst, SourceInterval: l.LoginSourceFailureInterval,
		Tracked: l.Tracked,
	}, s.now)
	u.assertionKeys = apps.NewAssertionKeys(s.store, s.Clients, s.Audit, a.JWKSAllowLoopback, s.now)
	jwks := assertion.NewAppJWKS(assertion.AppJWKSConfig{
		Timeout: a.JWKSTimeout, MaxBytes: a.JWKSMaxBytes, DefaultTTL: a.JWKSCacheTTL,
		AllowLoopback: a.JWKSAllowLoopback, Now: s.now,
	})
	metadata := tokens.NewMetadata(cfg.Issuer)
	u.assertions = assertion.NewVerifier(assertion.Config{
		Audiences:   []string{cfg.Issuer, metadata.TokenEndpoint, cfg.Issuer + "/access_token", metadata.CustomerAuthenticateEndpoint},
		ClockSkew:   a.ClockSkew,
		MaxLifetime: a.MaxLifetime, SweepInterval: a.SweepInterval, Now: s.now,
	}, s.Clients, s.keyring, jwks, s.store, s.Usage, s.log)
	u.origins = clients.NewOrigins(s.Clients, s.store, cfg.Cache.RefreshInterval, s.now, s.log)
}

// jwtBearer is the JWT bearer grant handler, served by the token endpoint
// and /customer_authenticate alike.
func (u *userServices) jwtBearer(users *tokens.UserTokens) *tokens.JWTBearerGrant {
	return &tokens.JWTBearerGrant{Users: users, Assertions: u.assertions}
}

// userTokens decides appUser tokens, bound to the key of the request's
// DPoP proof through dpop.
func (u *userServices) userTokens(policy *tokens.TokenPolicy, strategy *tokens.AccessTokenStrategy, dpop *tokens.DPoP) *tokens.UserTokens {
	return &tokens.UserTokens{Policy: policy, Strategy: strategy, Subjects: u.subjects, DPoP: dpop}
}

// usersPublic returns the public end-user routes: /customer_authenticate runs
// its own fosite provider with the customer grants (and the same client
// authentication as the token endpoint); /getprofile verifies tokens
// through the public JWKS URL with the verifier package, and the DPoP
// proofs of bound tokens (resourceDPoP).
func (s *Server) usersPublic(policy *tokens.TokenPolicy, strategy *tokens.AccessTokenStrategy, auth *clientauth.Authenticator, dpop *tokens.DPoP) (*handlers.Users, error) {
	u := &s.users
	cfg := s.cfg
	metadata := tokens.NewMetadata(cfg.Issuer)
	users := u.userTokens(policy, strategy, dpop)
	provider := tokens.NewProvider(tokens.ProviderConfig{Issuer: cfg.Issuer, TokenURL: metadata.TokenEndpoint, Limiter: s.Limiter},
		auth, s.Clients,
		&tokens.TestUserGrant{Users: users, TestUsers: u.testUsers, Clients: s.Clients, Limiter: u.logins},
		&tokens.DelegatedGrant{Users: users},
		u.jwtBearer(users),
		&tokens.UnsupportedGrant{Supported: tokens.CustomerGrantTypes},
	)
	v, err := verifier.New(verifier.Config{
		Issuer: cfg.Issuer, Audience: policy.DefaultAudience, JWKSURL: metadata.JWKSURI, Now: s.now,
		DPoP: s.resourceDPoP(),
	})
	if err != nil {
		return nil, fmt.Errorf("reference resource verifier: %w", err)
	}
	sameSite := map[string]http.SameSite{"strict": http.SameSiteStrictMode, "lax": http.SameSiteLaxMode, "none": http.SameSiteNoneMode}[cfg.Customers.CookieSameSite]
	return &handlers.Users{
		Provider: provider,
		Origins:  u.origins,
		Cookie: handlers.TokenCookie{
			Name: handlers.UserTokenCookie(cfg.Issuer), Secure: handlers.CookieSecure(cfg.Issuer), SameSite: sameSite,
		},
		Verifier: v,
		Profiles: u.testUsers,
	}, nil
}

// usersAdmin returns the end-user admin routes.
func (s *Server) usersAdmin() *handlers.UserAdmin {
	return &handlers.UserAdmin{TestUsers: s.users.testUsers, AssertionKeys: s.users.assertionKeys}
}
