package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver/authserver/verifier"
	"github.com/authserver/authserver/verifier/dpop"
)

// A resource server verifies access tokens offline in a few lines: point a
// Verifier at the issuer, then either call Verify or put Middleware in
// front of a handler.
func Example() {
	// Stand-ins for the authorization server: its JWKS endpoint and a
	// token it issued. A real resource server has neither of these.
	issuerURL, token, stop := fakeIssuer(nil)
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

// A DPoP-bound token (RFC 9449) is accepted only with "Authorization: DPoP"
// and a fresh proof signed by the key it is bound to (cnf.jkt). The same
// Middleware does it: set DPoPConfig.BaseURL to the URL clients call, and
// give several instances a shared DPoPConfig.Replay.
func Example_dpop() {
	// The client's key, and a token the issuer bound to it.
	clientKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jkt, _ := dpop.Thumbprint(&clientKey.PublicKey)
	issuerURL, token, stop := fakeIssuer(map[string]any{"cnf": map[string]any{"jkt": jkt}})
	defer stop()

	v, err := verifier.New(verifier.Config{
		Issuer:   issuerURL,
		Audience: "https://api.example.com",
		DPoP: verifier.DPoPConfig{
			// What clients put in htu; the default, formed from the
			// request, is wrong behind a TLS-terminating proxy.
			BaseURL: "https://api.example.com",
		},
	})
	if err != nil {
		panic(err)
	}
	h := v.Middleware(verifier.MiddlewareOptions{Realm: "api"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, bound: %v", c.Subject, c.Confirmation.JKT == jkt)
	}))
	call := func(scheme, proof string) {
		req := httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8080/profile", nil)
		req.Header.Set("Authorization", scheme+" "+token)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, rec.Body.String())
			return
		}
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// A fresh proof for each request, from the client's key.
	proof, _ := dpop.NewProof(clientKey, dpop.ProofParams{
		Method: http.MethodGet, URI: "https://api.example.com/profile", AccessToken: token,
	})
	call("DPoP", proof)
	call("DPoP", proof) // the same proof again
	call("Bearer", "")  // the token alone
	// Output:
	// 200 hello user-42, bound: true
	// 401 DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof is invalid: proof already used.", algs="ES256 EdDSA Ed25519 RS256 PS256"
	// 401 DPoP realm="api", error="invalid_token", error_description="The access token is DPoP-bound (cnf.jkt): send it as Authorization: DPoP <token> with a DPoP proof signed by its key (RFC 9449, section 7.2).", algs="ES256 EdDSA Ed25519 RS256 PS256"
}

// fakeIssuer serves a JWKS with one EdDSA key and returns its URL and a
// token signed with that key, with the extra claims given, and a function
// that stops the server. (go-jose's ES256 signatures are high-S half the
// time, which the verifier refuses as the authorization server never
// signs them.)
func fakeIssuer(extra map[string]any) (issuerURL, token string, stop func()) {
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
	claims := map[string]any{
		"iss": srv.URL, "aud": "https://api.example.com", "sub": "user-42",
		"client_id": "app_live_example", "jti": "1", "scope": "profile",
		"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"credential_scope": "appUser",
	}
	maps.Copy(claims, extra)
	token, _ = jwt.Signed(signer).Claims(claims).Serialize()
	return srv.URL, token, srv.Close
}
