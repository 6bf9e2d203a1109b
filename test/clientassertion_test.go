package test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientAssertionClaims are valid claims of a client assertion of app.
func clientAssertionClaims(in *testserver.Instance, appID string) map[string]any {
	return with(assertionClaims(in, appID, appID))
}

func clientCredentials(t testing.TB, in *testserver.Instance, assertion string, extra url.Values, header map[string]string) response {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}}
	for k, v := range extra {
		form[k] = v
	}
	return postFormTo(t, in.PublicURL+"/oauth2/token", form, header)
}

// Client authentication by JWT (RFC 7523 §2.2): private_key_jwt with a
// registered key, client_secret_jwt with a sealed secret; each assertion
// works once, a request refused before the client is authenticated does
// not use it up, and of concurrent uses exactly one succeeds.
func TestClientAssertion(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "backend")
	k := newAppKey(t, jose.PS256, "ps-1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})

	assertion := signJWT(t, jose.PS256, k.priv, "ps-1", clientAssertionClaims(in, app.ClientID))
	// Refused before authentication completes: the assertion is not used up.
	if r := clientCredentials(t, in, assertion, url.Values{"client_id": {"app_test_0000000000000000000000"}}, nil); r.status != 401 || r.str("error") != "invalid_client" {
		t.Fatalf("client_id of another app: %d %v", r.status, r.body)
	}
	r := clientCredentials(t, in, assertion, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("private_key_jwt: %d %v", r.status, r.body)
	}
	c, _, err := verifyToken(r.str("access_token"), fetchJWKS(t, in.PublicURL), in.PublicURL, in.PublicURL, time.Now())
	if err != nil || c.CredentialScope != "app" || c.Subject != app.ClientID || c.SecretID != "" {
		t.Fatalf("claims %+v %v", c, err)
	}
	if r := clientCredentials(t, in, assertion, nil, nil); r.status != 401 || r.str("error") != "invalid_client" || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("replay: %d %v", r.status, r.body)
	}

	// Concurrent uses of one assertion: exactly one token.
	fresh := signJWT(t, jose.PS256, k.priv, "ps-1", clientAssertionClaims(in, app.ClientID))
	var wg sync.WaitGroup
	statuses := make(chan int, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- clientCredentials(t, in, fresh, nil, nil).status
		}()
	}
	wg.Wait()
	close(statuses)
	var got []int
	for s := range statuses {
		got = append(got, s)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{200, 401, 401, 401, 401, 401}) {
		t.Fatalf("concurrent uses: %v, want one 200 and five 401", got)
	}

	// client_secret_jwt: HS256 with a sealed secret; the token names it.
	secretID, secret := signingSecret(t, in, app.ClientID)
	r = clientCredentials(t, in, signJWT(t, jose.HS256, []byte(secret), secretID, clientAssertionClaims(in, app.ClientID)), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("client_secret_jwt: %d %v", r.status, r.body)
	}
	if c, _, _ := verifyToken(r.str("access_token"), fetchJWKS(t, in.PublicURL), in.PublicURL, in.PublicURL, time.Now()); c.SecretID != secretID {
		t.Fatalf("secret_id %q, want %q", c.SecretID, secretID)
	}
	// A client assertion authenticates the delegated login too.
	r = postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{
		"customer_id": {"u-1"}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {signJWT(t, jose.HS256, []byte(secret), secretID, clientAssertionClaims(in, app.ClientID))},
	}, nil)
	if r.status != http.StatusOK || userClaims(t, in, r.str("access_token"), app.ClientID).SecretID != secretID {
		t.Fatalf("delegated with client_secret_jwt: %d %v", r.status, r.body)
	}
	// Secrets that existed before the opt-in were only hashed: they cannot
	// sign. Opting out erases the sealed copies at once.
	if r := clientCredentials(t, in, signJWT(t, jose.HS256, []byte(app.ClientSecret), app.SecretID, clientAssertionClaims(in, app.ClientID)), nil, nil); r.status != 401 {
		t.Fatalf("secret from before the opt-in: %d %v", r.status, r.body)
	}
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
	var keys struct {
		SigningSecrets []string `json:"signing_secrets"`
	}
	in.Admin(t, "", http.MethodGet, "/admin/v1/apps/"+app.ClientID+"/assertion-keys", nil, &keys)
	if len(keys.SigningSecrets) != 0 {
		t.Fatalf("sealed secrets after opting out: %v", keys.SigningSecrets)
	}
	if r := clientCredentials(t, in, signJWT(t, jose.HS256, []byte(secret), secretID, clientAssertionClaims(in, app.ClientID)), nil, nil); r.status != 401 || r.str("error") != "invalid_client" {
		t.Fatalf("after opting out: %d %v", r.status, r.body)
	}
}

// Every hostile client assertion is refused with the right error and
// leaves the store as it was.
func TestClientAssertionRejects(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "backend")
	other := createTestApp(t, in, "other")
	k := newAppKey(t, jose.RS256, "k1")
	setAssertionKeys(t, in, app.ClientID, map[string]any{"jwks": jwksJSON(t, k)})
	used := signJWT(t, jose.RS256, k.priv, "k1", clientAssertionClaims(in, app.ClientID))
	if r := clientCredentials(t, in, used, nil, nil); r.status != http.StatusOK {
		t.Fatalf("first use: %d %v", r.status, r.body)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.priv.(*rsa.PrivateKey).PublicKey)
	now := in.Clock.Now()
	good := clientAssertionClaims(in, app.ClientID)
	rs := func(claims map[string]any) string { return signJWT(t, jose.RS256, k.priv, "k1", claims) }
	if err := in.Server.Usage.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := in.DumpStore(t)
	tests := []struct {
		name      string
		assertion string
		extra     url.Values
		header    map[string]string
		status    int
		code      string
	}{
		{"expired", rs(with(good, "iat", now.Add(-10*time.Minute).Unix(), "exp", now.Add(-time.Minute).Unix())), nil, nil, 401, "invalid_client"},
		{"not yet valid", rs(with(good, "nbf", now.Add(10*time.Minute).Unix())), nil, nil, 401, "invalid_client"},
		{"wrong aud", rs(with(good, "aud", "https://other.example")), nil, nil, 401, "invalid_client"},
		{"sub is not the client", rs(with(good, "sub", "someone")), nil, nil, 401, "invalid_client"},
		{"replayed jti", used, nil, nil, 401, "invalid_client"},
		{"unknown kid", signJWT(t, jose.RS256, k.priv, "k2", good), nil, nil, 401, "invalid_client"},
		{"alg none", unsignedJWT("k1", good), nil, nil, 401, "invalid_client"},
		{"HS256 with the RSA public key", signJWT(t, jose.HS256, pubDER, "k1", good), nil, nil, 401, "invalid_client"},
		{"another issuer", rs(with(good, "iss", "https://evil.example", "sub", "https://evil.example")), nil, nil, 401, "invalid_client"},
		{"another app's id", rs(with(good, "iss", other.ClientID, "sub", other.ClientID)), nil, nil, 401, "invalid_client"},
		{"client_id does not match", rs(good), url.Values{"client_id": {other.ClientID}}, nil, 401, "invalid_client"},
		{"wrong assertion type", rs(good), url.Values{"client_assertion_type": {"urn:example:saml"}}, nil, 400, "invalid_request"},
		{"assertion and Basic", rs(good), nil, map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}, 400, "invalid_request"},
		{"from a browser", rs(good), nil, map[string]string{"Origin": shopOrigin}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := clientCredentials(t, in, tc.assertion, tc.extra, tc.header)
			if r.status != tc.status || r.str("error") != tc.code {
				t.Fatalf("got %d %v, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("CORS header on the token endpoint")
			}
		})
	}
	unchanged(t, in, before)
}

// The metadata (RFC 8414) advertises JWT client authentication, its
// algorithms, the JWT bearer grant and the customer_authenticate endpoint.
func TestEndUserMetadata(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	r := do(t, http.MethodGet, in.PublicURL+"/.well-known/oauth-authorization-server", nil, nil)
	has := func(field string, want ...string) {
		t.Helper()
		list, _ := r.body[field].([]any)
		for _, w := range want {
			if !slices.Contains(list, any(w)) {
				t.Errorf("%s %v lacks %s", field, list, w)
			}
		}
	}
	has("token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt")
	has("token_endpoint_auth_signing_alg_values_supported", "RS256", "ES256", "HS256")
	has("grant_types_supported", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer")
	has("customer_authenticate_grant_types_supported", "urn:authserver:params:oauth:grant-type:test-user",
		"urn:authserver:params:oauth:grant-type:delegated", "urn:ietf:params:oauth:grant-type:jwt-bearer")
	if r.str("customer_authenticate_endpoint") != in.PublicURL+"/customer_authenticate" {
		t.Errorf("customer_authenticate_endpoint %q", r.str("customer_authenticate_endpoint"))
	}
	if list, _ := r.body["token_endpoint_auth_signing_alg_values_supported"].([]any); slices.Contains(list, any("none")) {
		t.Error("alg none advertised")
	}
}
