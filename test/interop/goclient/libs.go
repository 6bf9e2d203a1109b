package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/coreos/go-oidc/v3/oidc"
	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	xjwt "github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	ojwt "golang.org/x/oauth2/jwt"
)

func randomJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// payload decodes a JWT's claims without verifying it, for the driver.
func payload(tok string) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// golang.org/x/oauth2/clientcredentials, client_secret_basic.
func oauth2Basic(ctx context.Context, j job) (outcome, error) {
	return clientCredentials(ctx, j, oauth2.AuthStyleInHeader)
}

// golang.org/x/oauth2/clientcredentials, client_secret_post.
func oauth2Post(ctx context.Context, j job) (outcome, error) {
	return clientCredentials(ctx, j, oauth2.AuthStyleInParams)
}

func clientCredentials(ctx context.Context, j job, style oauth2.AuthStyle) (outcome, error) {
	cfg := clientcredentials.Config{
		ClientID: j.ClientID, ClientSecret: j.ClientSecret, TokenURL: j.TokenEndpoint,
		Scopes: []string{j.Scope}, AuthStyle: style,
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return outcome{}, err
	}
	return outcome{token: tok.AccessToken}, nil
}

// oauth2SecureMode signs the user assertion and exchanges it with
// golang.org/x/oauth2/jwt (RFC 7523 §2.1) at /customer_authenticate. The
// package takes the private key as PEM.
func oauth2SecureMode(ctx context.Context, j job) (outcome, error) {
	key, err := jwk.ParseKey(j.SecureModeKey)
	if err != nil {
		return outcome{}, err
	}
	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		return outcome{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(raw)
	if err != nil {
		return outcome{}, err
	}
	kid, _ := key.KeyID()
	cfg := ojwt.Config{
		Email:         j.ClientID,
		Subject:       j.CustomerID,
		PrivateKey:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PrivateKeyID:  kid,
		TokenURL:      j.CustomerAuthenticateEndpoint,
		Audience:      j.Issuer,
		Expires:       5 * time.Minute,
		PrivateClaims: map[string]any{"jti": randomJTI()},
	}
	tok, err := cfg.TokenSource(ctx).Token()
	if err != nil {
		return outcome{}, err
	}
	return outcome{token: tok.AccessToken}, nil
}

// oidcDiscovery is go-oidc's NewProvider: OpenID Connect discovery at
// {issuer}/.well-known/openid-configuration.
func oidcDiscovery(ctx context.Context, j job) (outcome, error) {
	p, err := oidc.NewProvider(ctx, j.Issuer)
	if err != nil {
		return outcome{}, err
	}
	if p.Endpoint().TokenURL != j.TokenEndpoint {
		return outcome{}, fmt.Errorf("the provider's token endpoint is %q", p.Endpoint().TokenURL)
	}
	return outcome{}, nil
}

// oidcVerifier is go-oidc's RemoteKeySet (refetches on an unknown kid)
// with its verifier; ClientID is the audience the tokens carry. The
// algorithm is named, as go-oidc defaults to RS256 when no OpenID
// discovery document lists id_token_signing_alg_values_supported.
type oidcVerifier struct{ v *oidc.IDTokenVerifier }

func newOIDCVerifier(ctx context.Context, j job) (verifier, error) {
	ks := oidc.NewRemoteKeySet(ctx, j.JWKSURI)
	return oidcVerifier{oidc.NewVerifier(j.Issuer, ks, &oidc.Config{ClientID: j.Audience, SupportedSigningAlgs: []string{j.ServerAlg}})}, nil
}

func (o oidcVerifier) verify(ctx context.Context, token string) (map[string]any, error) {
	t, err := o.v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, t.Claims(&claims)
}

// keyfuncVerifier is keyfunc's default JWKS client (background refresh,
// refetch on an unknown kid at most every 5 minutes) with golang-jwt.
type keyfuncVerifier struct {
	kf  keyfunc.Keyfunc
	job job
}

func newKeyfuncVerifier(ctx context.Context, j job) (verifier, error) {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{j.JWKSURI})
	if err != nil {
		return nil, err
	}
	return keyfuncVerifier{kf, j}, nil
}

func (k keyfuncVerifier) verify(ctx context.Context, token string) (map[string]any, error) {
	claims := gjwt.MapClaims{}
	_, err := gjwt.ParseWithClaims(token, claims, k.kf.KeyfuncCtx(ctx),
		gjwt.WithValidMethods([]string{k.job.ServerAlg}), gjwt.WithIssuer(k.job.Issuer),
		gjwt.WithAudience(k.job.Audience), gjwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// jwxVerifier is jwx's jwk.Cache: the JWKS is fetched when registered
// and refreshed in the background on its own schedule.
type jwxVerifier struct {
	set jwk.Set
	job job
}

func newJWXVerifier(ctx context.Context, j job) (verifier, error) {
	c, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		return nil, err
	}
	if err := c.Register(ctx, j.JWKSURI); err != nil {
		return nil, err
	}
	set, err := c.CachedSet(j.JWKSURI)
	if err != nil {
		return nil, err
	}
	return jwxVerifier{set, j}, nil
}

func (x jwxVerifier) verify(_ context.Context, token string) (map[string]any, error) {
	if _, err := xjwt.Parse([]byte(token), xjwt.WithKeySet(x.set), xjwt.WithIssuer(x.job.Issuer),
		xjwt.WithAudience(x.job.Audience), xjwt.WithValidate(true)); err != nil {
		return nil, err
	}
	return payload(token)
}

// jwxSecureMode signs the user assertion with jwx and exchanges it at
// /customer_authenticate with net/http.
func jwxSecureMode(ctx context.Context, j job) (outcome, error) {
	key, err := jwk.ParseKey(j.SecureModeKey)
	if err != nil {
		return outcome{}, err
	}
	alg, ok := jwa.LookupSignatureAlgorithm(j.SecureModeAlg)
	if !ok {
		return outcome{}, fmt.Errorf("jwx has no algorithm %s", j.SecureModeAlg)
	}
	now := time.Now()
	t, err := xjwt.NewBuilder().Issuer(j.ClientID).Subject(j.CustomerID).Audience([]string{j.Issuer}).
		IssuedAt(now).Expiration(now.Add(5 * time.Minute)).JwtID(randomJTI()).Build()
	if err != nil {
		return outcome{}, err
	}
	signed, err := xjwt.Sign(t, xjwt.WithKey(alg, key))
	if err != nil {
		return outcome{}, err
	}
	return exchange(ctx, j, string(signed))
}

// exchange posts a user assertion to /customer_authenticate (JWT bearer
// grant) with net/http and returns the access token.
func exchange(ctx context.Context, j job, assertion string) (outcome, error) {
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.CustomerAuthenticateEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return outcome{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return outcome{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return outcome{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return outcome{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return outcome{}, err
	}
	return outcome{token: tr.AccessToken}, nil
}
