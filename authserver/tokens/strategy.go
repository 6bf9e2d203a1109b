package tokens

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/authserver/authserver/authserver/signingkeys"
)

// AccessTokenStrategy issues the RFC 9068 access token of a granted
// request. It completes the claims of the request's *Session the way
// fosite's oauth2.DefaultJWTStrategy completes them (the granted scope
// and audience, the expiry, iat and iss when unset), renders them as JSON
// without a map or reflection (AccessTokenClaims.appendJSON) and signs
// them with the key manager's active key, whose protected header carries
// the kid and typ "at+jwt".
type AccessTokenStrategy struct {
	keys   *signingkeys.KeyManager
	issuer string
}

// NewAccessTokenStrategy returns the strategy of tokens of issuer signed
// by keys.
func NewAccessTokenStrategy(keys *signingkeys.KeyManager, issuer string) *AccessTokenStrategy {
	return &AccessTokenStrategy{keys: keys, issuer: issuer}
}

// GenerateAccessToken returns the signed access token of requester and
// its signature part, as fosite's oauth2.AccessTokenStrategy does. The
// session must be a *Session (NewSession); any other is a server error.
func (s *AccessTokenStrategy) GenerateAccessToken(_ context.Context, requester fosite.Requester) (token, signature string, err error) {
	sess, ok := requester.GetSession().(*Session)
	if !ok {
		return "", "", fmt.Errorf("session of type %T, want *Session", requester.GetSession())
	}
	c := &sess.Claims
	c.With(sess.GetExpiresAt(fosite.AccessToken), requester.GetGrantedScopes(), requester.GetGrantedAudience()).
		WithDefaults(time.Now().UTC(), s.issuer).
		WithScopeField(jwt.JWTScopeFieldString)
	token, err = s.keys.Sign(c.appendJSON(make([]byte, 0, 512)))
	if err != nil {
		return "", "", err
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}
