package server

import (
	"fmt"
	"net/http"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/handlers"
	"github.com/authserver/authserver/verifier"
)

// userServices are the end-user parts: test users and their login
// limiter, customer identifiers, app-signed assertions, CORS origins.
type userServices struct {
	subjects      *authserver.Subjects
	customers     *authserver.Customers
	assertionKeys *authserver.AssertionKeys
	assertions    *authserver.Assertions
	origins       *authserver.Origins
	logins        *authserver.LoginLimiter
}

// initUsers builds the end-user services; the Apps and caches exist by now.
func (s *Server) initUsers() {
	cfg := s.cfg
	a := cfg.Assertions
	u := &s.users
	u.subjects = authserver.NewSubjects(s.store, s.Clients, s.keyring)
	u.customers = authserver.NewCustomers(s.store, u.subjects, s.Audit, s.now)
	l := cfg.Limits
	proxies, _ := parseCIDRs(l.TrustedProxies) // validated
	u.logins = authserver.NewLoginLimiter(authserver.LoginLimitConfig{
		UserBurst: l.LoginUserFailureBurst, UserInterval: l.LoginUserFailureInterval,
		SourceBurst: l.LoginSourceFailureBurst, SourceInterval: l.LoginSourceFailureInterval,
		Tracked: l.Tracked, TrustedProxies: proxies,
	}, s.now)
	u.assertionKeys = authserver.NewAssertionKeys(s.store, s.Clients, s.Audit, a.JWKSAllowLoopback, s.now)
	jwks := authserver.NewAppJWKS(authserver.AppJWKSConfig{
		Timeout: a.JWKSTimeout, MaxBytes: a.JWKSMaxBytes, DefaultTTL: a.JWKSCacheTTL,
		AllowLoopback: a.JWKSAllowLoopback, Now: s.now,
	})
	metadata := authserver.NewMetadata(cfg.Issuer)
	u.assertions = authserver.NewAssertions(authserver.AssertionConfig{
		Audiences:   []string{cfg.Issuer, metadata.TokenEndpoint, cfg.Issuer + "/access_token", metadata.CustomerAuthenticateEndpoint},
		ClockSkew:   a.ClockSkew,
		MaxLifetime: a.MaxLifetime, SweepInterval: a.SweepInterval, Now: s.now,
	}, s.Clients, s.keyring, jwks, s.store, s.Usage, s.log)
	u.origins = authserver.NewOrigins(s.Clients, s.store, cfg.Cache.RefreshInterval, s.now, s.log)
}

// jwtBearer is the JWT bearer grant handler, served by the token endpoint
// and /customer_authenticate alike.
func (u *userServices) jwtBearer(users *authserver.UserTokens) *authserver.JWTBearerGrant {
	return &authserver.JWTBearerGrant{Users: users, Assertions: u.assertions}
}

// userTokens decides appUser tokens.
func (u *userServices) userTokens(policy *authserver.TokenPolicy, strategy *authserver.AccessTokenStrategy) *authserver.UserTokens {
	return &authserver.UserTokens{Policy: policy, Strategy: strategy, Subjects: u.subjects}
}

// usersPublic returns the public end-user routes: /customer_authenticate runs
// its own fosite provider with the customer grants (and the same client
// authentication as the token endpoint); /getprofile verifies tokens
// through the public JWKS URL with the verifier package.
func (s *Server) usersPublic(policy *authserver.TokenPolicy, strategy *authserver.AccessTokenStrategy, auth *authserver.ClientAuthenticator) (*handlers.Users, error) {
	u := &s.users
	cfg := s.cfg
	metadata := authserver.NewMetadata(cfg.Issuer)
	users := u.userTokens(policy, strategy)
	provider := authserver.NewProvider(authserver.ProviderConfig{Issuer: cfg.Issuer, TokenURL: metadata.TokenEndpoint, Limiter: s.Limiter},
		auth, s.Clients,
		&authserver.TestUserGrant{Users: users, Customers: u.customers, Clients: s.Clients, Limiter: u.logins},
		&authserver.DelegatedGrant{Users: users},
		u.jwtBearer(users),
		&authserver.UnsupportedGrant{Supported: authserver.CustomerGrantTypes},
	)
	v, err := verifier.New(verifier.Config{
		Issuer: cfg.Issuer, Audience: policy.DefaultAudience, JWKSURL: metadata.JWKSURI, Now: s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("reference resource verifier: %w", err)
	}
	sameSite := map[string]http.SameSite{"strict": http.SameSiteStrictMode, "lax": http.SameSiteLaxMode, "none": http.SameSiteNoneMode}[cfg.Customers.CookieSameSite]
	return &handlers.Users{
		Provider: provider,
		Origins:  u.origins,
		Cookie: handlers.TokenCookie{
			Name: authserver.UserTokenCookie(cfg.Issuer), Secure: authserver.CookieSecure(cfg.Issuer), SameSite: sameSite,
		},
		Verifier: v,
		Profiles: u.customers,
	}, nil
}

// usersAdmin returns the end-user admin routes.
func (s *Server) usersAdmin() *handlers.UserAdmin {
	return &handlers.UserAdmin{Customers: s.users.customers, AssertionKeys: s.users.assertionKeys}
}
