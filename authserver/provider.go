package authserver

import (
	"context"
	"errors"
	"time"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"
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
	Limiter *AuthLimiter
}

// NewProvider composes fosite with our client authentication and only the
// grant handlers we use (never ComposeAllEnabled: no authorization code,
// implicit or password flows). handlers run in order.
func NewProvider(cfg ProviderConfig, auth *ClientAuthenticator, clients *ClientCache, handlers ...fosite.TokenEndpointHandler) fosite.OAuth2Provider {
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

// NewAccessTokenStrategy returns fosite's JWT access token strategy backed
// by the key manager, so that tokens carry kid and typ "at+jwt". Tokens of
// our own *Session are encoded from its claims struct directly (see
// accessTokenStrategy); the claims and their bytes are the same.
func NewAccessTokenStrategy(keys *KeyManager, issuer string) oauth2.AccessTokenStrategy {
	return &accessTokenStrategy{
		DefaultJWTStrategy: &oauth2.DefaultJWTStrategy{
			Signer: keys,
			Config: &fosite.Config{AccessTokenIssuer: issuer, JWTScopeClaimKey: jwt.JWTScopeFieldString},
		},
		keys:   keys,
		issuer: issuer,
	}
}

// accessTokenStrategy is fosite's DefaultJWTStrategy whose
// GenerateAccessToken skips the jwt.MapClaims that fosite builds and our
// signer sorts and encodes again (a map of ten boxed values per token):
// for a *Session it applies the same With, WithDefaults and WithScopeField
// steps fosite's generate does and appends the claims struct as JSON, the
// bytes encodeClaims would give for ToMapClaims (signer_test.go holds
// the two equal). Other sessions go through fosite.
type accessTokenStrategy struct {
	*oauth2.DefaultJWTStrategy
	keys   *KeyManager
	issuer string
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy: the signed
// RFC 9068 access token of requester and its signature part.
func (s *accessTokenStrategy) GenerateAccessToken(ctx context.Context, requester fosite.Requester) (string, string, error) {
	sess, ok := requester.GetSession().(*Session)
	if !ok {
		return s.DefaultJWTStrategy.GenerateAccessToken(ctx, requester)
	}
	c := &sess.Claims
	c.With(sess.GetExpiresAt(fosite.AccessToken), requester.GetGrantedScopes(), requester.GetGrantedAudience()).
		WithDefaults(time.Now().UTC(), s.issuer).
		WithScopeField(jwt.JWTScopeFieldString)
	token, err := s.keys.Sign(c.appendJSON(make([]byte, 0, 512)))
	if err != nil {
		return "", "", err
	}
	return token, signaturePart(token), nil
}

// digestHasher is fosite's secret hasher, for the code paths of fosite that
// compare secrets themselves: SHA-256 compared in constant time (DESIGN.md:
// a 256-bit random secret needs no slow hash). Our ClientAuthenticator does
// not go through it.
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
	clients *ClientCache
}

var _ fosite.Storage = fositeStore{}

func (s fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	e, err := s.clients.get(ctx, id)
	if err != nil {
		return nil, fosite.ErrNotFound
	}
	return &Client{app: &e.app}, nil
}

// ClientAssertionJWTValid and SetClientAssertionJWT are unused: client
// assertions are checked by ClientAuthenticator.
func (s fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown
}

func (s fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrJTIKnown
}
