package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/authserver/authserver/authserver/clientauth"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/limits"
)

// ProviderConfig is what the fosite provider needs from the server config.
type ProviderConfig struct {
	// Issuer is the issuer identifier (RFC 8414 §2), e.g.
	// "https://auth.example.com".
	Issuer string
	// TokenURL is the token endpoint's absolute URL; client assertions
	// must name it (or the issuer) as audience (RFC 7523 §3).
	TokenURL string
	// Limiter, if set, limits failed client authentication (429).
	Limiter *limits.AuthLimiter
}

// NewProvider composes fosite with our client authentication and only the
// grant handlers we use (never ComposeAllEnabled: no authorization code,
// implicit or password flows). handlers run in order.
func NewProvider(cfg ProviderConfig, auth *clientauth.Authenticator, clients *clients.Cache, handlers ...fosite.TokenEndpointHandler) fosite.OAuth2Provider {
	strategy := fosite.ClientAuthenticationStrategy(auth.Authenticate)
	if cfg.Limiter != nil {
		strategy = cfg.Limiter.Wrap(strategy)
	}
	fc := &fosite.Config{
		AccessTokenIssuer:            cfg.Issuer,
		TokenURL:                     cfg.TokenURL,
		ClientAuthenticationStrategy: strategy,
		ClientSecretsHasher:          digestHasher{},
		ScopeStrategy:                fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:     fosite.ExactAudienceMatchingStrategy,
		JWTScopeClaimKey:             jwt.JWTScopeFieldString,
		SendDebugMessagesToClients:   false,
		TokenEndpointHandlers:        handlers,
	}
	return fosite.NewOAuth2Provider(fositeStore{clients: clients}, fc)
}

// digestHasher is fosite's secret hasher, for the code paths of fosite that
// compare secrets themselves: SHA-256 compared in constant time
// (docs/credentials.md, "Secret keys": a 256-bit random secret needs no
// slow hash). Our clientauth.Authenticator does not go through it.
type digestHasher struct{}

var _ fosite.Hasher = digestHasher{}

func (digestHasher) Compare(_ context.Context, hash, data []byte) error {
	d := credential.Digest(string(data))
	if len(hash) != len(d) || !credential.ConstantTimeEqual(hash, d[:]) {
		return errors.New("secret does not match")
	}
	return nil
}

func (digestHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	d := credential.Digest(string(data))
	return d[:], nil
}

// fositeStore is the fosite.Storage of the provider: client look-ups from
// the cache.
type fositeStore struct {
	clients *clients.Cache
}

var _ fosite.Storage = fositeStore{}

func (s fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	e, err := s.clients.Get(ctx, id)
	if err != nil {
		return nil, fosite.ErrNotFound
	}
	return clients.NewClient(e.App()), nil
}

// ClientAssertionJWTValid and SetClientAssertionJWT are unused: client
// assertions are checked by clientauth.Authenticator.
func (s fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown
}

func (s fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrJTIKnown
}
