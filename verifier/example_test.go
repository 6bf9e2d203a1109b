package verifier_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver/authserver/verifier"
)

// A resource server verifies access tokens offline in a few lines: point a
// Verifier at the issuer, then either call Verify or put Middleware in
// front of a handler.
func Example() {
	// Stand-ins for the authorization server: its JWKS endpoint and a
	// token it issued. A real resource server has neither of these.
	issuerURL, token, stop := fakeIssuer()
	defer stop()

	v, err := verifier.New(verifier.Config{
		Issuer:   issuerURL,                 // iss must be exactly this
		Audience: "https://api.example.com", // aud must contain this
		// JWKSURL defaults to Issuer + "/.well-known/jwks.json".
	})
	if err != nil {
		panic(err)
	}

	// Directly:
	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		panic(err)
	}
	fmt.Println("credential scope:", claims.CredentialScope, "client:", claims.ClientID)

	// Or as middleware; the handler reads the verified claims.
	profile := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	h := v.Middleware(verifier.MiddlewareOptions{Realm: "api"})(profile)

	req := httptest.NewRequest(http.MethodGet, "/profile", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, string(body))

	req = httptest.NewRequest(http.MethodGet, "/profile", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Replace(token, ".", ".x", 1))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// credential scope: appUser client: app_live_example
	// 200 hello user-42
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token's signature does not verify with the issuer's key."
}

// fakeIssuer serves a JWKS with one EdDSA key and returns its URL and a
// token signed with that key, and a function that stops the server.
// (go-jose's ES256 signatures are high-S half the time, which the verifier
// refuses as the authorization server never signs them.)
func fakeIssuer() (issuerURL, token string, stop func()) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(jwks)
	}))
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	now := time.Now()
	token, _ = jwt.Signed(signer).Claims(map[string]any{
		"iss": srv.URL, "aud": "https://api.example.com", "sub": "user-42",
		"client_id": "app_live_example", "jti": "1", "scope": "profile",
		"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"credential_scope": "appUser",
	}).Serialize()
	return srv.URL, token, srv.Close
}
