package test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

// loginToken returns a test user's appUser token.
func loginToken(t testing.TB, in *testserver.Instance, appID, username, password string) string {
	t.Helper()
	r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"client_id": {appID}, "username": {username}, "password": {password}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("login %s: %d %v", username, r.status, r.body)
	}
	return r.str("access_token")
}

// serverSigned signs claims with the instance's own active key (typ
// at+jwt, kid): a token only this issuer could have made, shaped at will.
func serverSigned(t testing.TB, in *testserver.Instance, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := in.Server.Keys.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tokenClaims(in *testserver.Instance, sub, clientID, scope string) map[string]any {
	now := in.Clock.Now()
	return map[string]any{
		"iss": in.PublicURL, "aud": in.PublicURL, "sub": sub, "client_id": clientID, "jti": randomJTI(),
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "scope": "profile", "credential_scope": scope,
	}
}

// The reference resource: token plus the app's API key; a user reads only
// their own profile, an app any user of its own, nobody another app's
// users, account tokens nothing.
func TestGetProfile(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	a := createTestApp(t, in, "a")
	b := createTestApp(t, in, "b")
	subAlice := createUser(t, in, a.ClientID, "alice", "password-a", "")
	subBob := createUser(t, in, a.ClientID, "bob", "password-b", "")
	subCarol := createUser(t, in, b.ClientID, "carol", "password-c", "")
	alice := loginToken(t, in, a.ClientID, "alice", "password-a")
	carol := loginToken(t, in, b.ClientID, "carol", "password-c")
	appA, appB := token(t, in, a), token(t, in, b)
	account := serverSigned(t, in, tokenClaims(in, "acck_owner", "account", "account"))

	tests := []struct {
		name     string
		token    string
		apiKey   string
		customer string
		status   int
		code     string
		username string
	}{
		{"user reads own profile", alice, a.ClientID, "", 200, "", "alice"},
		{"user names own profile", alice, a.ClientID, subAlice, 200, "", "alice"},
		{"user A cannot read user B", alice, a.ClientID, subBob, 403, "insufficient_scope", ""},
		{"user cannot read another app's user", alice, a.ClientID, subCarol, 403, "insufficient_scope", ""},
		{"app reads its user", appA, a.ClientID, subBob, 200, "", "bob"},
		{"app reads its other user", appA, a.ClientID, subAlice, 200, "", "alice"},
		{"app cannot reach another app's user", appA, a.ClientID, subCarol, 404, "not_found", ""},
		{"another app cannot read A's users", appB, b.ClientID, subAlice, 404, "not_found", ""},
		{"another app's user cannot read A's users", carol, b.ClientID, subAlice, 403, "insufficient_scope", ""},
		{"app token must name a customer", appA, a.ClientID, "", 400, "invalid_request", ""},
		{"API key of another app", appB, a.ClientID, subAlice, 403, "invalid_api_key", ""},
		{"user token with another app's API key", alice, b.ClientID, "", 403, "invalid_api_key", ""},
		{"no API key", alice, "", "", 400, "invalid_request", ""},
		{"account token", account, "account", "", 403, "insufficient_scope", ""},
		{"no token", "", a.ClientID, "", 401, "unauthorized", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := getProfile(t, in, tc.token, tc.apiKey, tc.customer, nil)
			if r.status != tc.status || r.str("error") != tc.code {
				t.Fatalf("got %d %v, want %d %q", r.status, r.body, tc.status, tc.code)
			}
			if tc.username != "" && (r.str("username") != tc.username || r.str("app_id") != tc.apiKey) {
				t.Fatalf("profile %v", r.body)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="authserver"` {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// A delegated user with no test-user record reads its own profile.
	r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"customer_id": {"ext-9"}}, map[string]string{"Authorization": basic(a.ClientID, a.ClientSecret)})
	p := getProfile(t, in, r.str("access_token"), a.ClientID, "", nil)
	if p.status != 200 || p.str("customer") == "" || p.str("username") != "" {
		t.Fatalf("delegated user's profile: %d %v", p.status, p.body)
	}
}

// Tokens the reference resource must refuse, each with 401 invalid_token
// saying which check failed (never repeating the token) and no state
// change: it verifies offline with the verifier package against the
// public JWKS.
func TestGetProfileRejectsTokens(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	foreign := startUsers(t)
	app := createTestApp(t, in, "a")
	sub := createUser(t, in, app.ClientID, "alice", "password-a", "")
	good := tokenClaims(in, sub, app.ClientID, "appUser")
	if r := getProfile(t, in, serverSigned(t, in, good), app.ClientID, "", nil); r.status != 200 {
		t.Fatalf("control: %d %v", r.status, r.body)
	}
	jwks := fetchJWKS(t, in.PublicURL)
	ours := jwks.Keys[0]
	pubDER, err := x509.MarshalPKIXPublicKey(ours.Key.(*rsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	stranger := newAppKey(t, jose.RS256, "nope")
	at := func(alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
		t.Helper()
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		s, err := signer.Sign(mustJSON(t, claims))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := s.CompactSerialize()
		return out
	}
	now := in.Clock.Now()
	fc := tokenClaims(foreign, sub, app.ClientID, "appUser")
	before := in.DumpStore(t)
	tests := []struct {
		name  string
		token string
		says  string
	}{
		{"expired", serverSigned(t, in, with(good, "exp", now.Add(-time.Minute).Unix())), "expired"},
		{"not yet valid", serverSigned(t, in, with(good, "nbf", now.Add(5*time.Minute).Unix())), "not valid yet"},
		{"issued in the future", serverSigned(t, in, with(good, "iat", now.Add(5*time.Minute).Unix())), "not valid yet"},
		// An appUser token passes whatever its aud (TestGetProfileForEveryApp);
		// an app token must be meant for this server.
		{"app token, wrong aud", serverSigned(t, in, with(good, "aud", "https://other.example", "credential_scope", "app")), "audience"},
		{"another issuer", serverSigned(t, foreign, fc), "unknown signing key"},
		{"another issuer's claims, our key", serverSigned(t, in, with(good, "iss", foreign.PublicURL)), "issuer"},
		{"unknown kid", at(jose.RS256, stranger.priv, "nope", good), "unknown signing key"},
		{"our kid, another key", at(jose.RS256, stranger.priv, ours.KeyID, good), "signature"},
		{"alg none", strings.Replace(unsignedJWT(ours.KeyID, good), `"typ":"JWT"`, `"typ":"at+jwt"`, 1), "algorithm"},
		{"HS256 signed with our RSA public key", at(jose.HS256, pubDER, ours.KeyID, good), "algorithm"},
		{"no jti", serverSigned(t, in, with(good, "jti", nil)), "required claim"},
		{"not a JWT", "abc", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := getProfile(t, in, tc.token, app.ClientID, "", nil)
			desc := r.str("error_description")
			www := r.header.Get("WWW-Authenticate")
			if r.status != 401 || r.str("error") != "invalid_token" || !strings.Contains(www, `error="invalid_token"`) ||
				!strings.Contains(desc, tc.says) || !strings.Contains(www, desc) {
				t.Fatalf("got %d %v %v, want 401 invalid_token saying %q", r.status, r.body, r.header, tc.says)
			}
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) > 8 && strings.Contains(desc+www, part) {
					t.Fatal("the answer repeats the token")
				}
			}
		})
	}
	unchanged(t, in, before)
	// Expiry follows the clock: the good token stops working after exp.
	tok := serverSigned(t, in, good)
	in.Clock.Advance(11 * time.Minute)
	if r := getProfile(t, in, tok, app.ClientID, "", nil); r.status != 401 {
		t.Fatalf("after exp: %d %v", r.status, r.body)
	}
}

// CORS by credential scope (seed 000): preflights and actual requests.
func TestCORSByCredentialScope(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	a := createTestApp(t, in, "a", shopOrigin)
	createTestApp(t, in, "b", "https://b.example")
	subAlice := createUser(t, in, a.ClientID, "alice", "password-a", "")
	alice := loginToken(t, in, a.ClientID, "alice", "password-a")
	appA := token(t, in, a)
	account := serverSigned(t, in, tokenClaims(in, "acck_owner", "account", "account"))

	t.Run("preflight", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, origin, headers string
			allowed                     bool
		}{
			{"getprofile, app origin", "/getprofile", shopOrigin, "authorization, x-api-key, content-type", true},
			{"getprofile, another app's origin", "/getprofile", "https://b.example", "authorization, x-api-key", true},
			{"getprofile, unknown origin", "/getprofile", "https://evil.example", "authorization, x-api-key", false},
			{"getprofile, header not allowed", "/getprofile", shopOrigin, "x-admin", false},
			{"customer_authenticate, app origin", "/customer_authenticate", shopOrigin, "content-type", true},
			{"customer_authenticate, Authorization header", "/customer_authenticate", shopOrigin, "authorization", false},
			{"customer_authenticate, unknown origin", "/customer_authenticate", "https://evil.example", "content-type", false},
			{"token endpoint", "/oauth2/token", shopOrigin, "authorization", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, http.MethodOptions, in.PublicURL+tc.path, nil, map[string]string{
					"Origin": tc.origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": tc.headers,
				})
				acao := r.header.Get("Access-Control-Allow-Origin")
				if tc.allowed {
					if r.status != http.StatusNoContent || acao != tc.origin || r.header.Get("Access-Control-Allow-Credentials") != "true" ||
						!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
						t.Fatalf("allowed preflight: %d %v", r.status, r.header)
					}
				} else if acao != "" || r.header.Get("Access-Control-Allow-Credentials") != "" {
					t.Fatalf("refused preflight carries CORS headers: %d %v", r.status, r.header)
				}
			})
		}
	})
	t.Run("actual requests", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, apiKey, customer, origin string
			status                                int
			acao                                  bool
		}{
			{"appUser, its app's origin", alice, a.ClientID, "", shopOrigin, 200, true},
			{"appUser, another app's origin", alice, a.ClientID, "", "https://b.example", 200, false},
			{"appUser, unknown origin", alice, a.ClientID, "", "https://evil.example", 200, false},
			{"app token, its app's origin", appA, a.ClientID, subAlice, shopOrigin, 200, false},
			{"account token", account, "account", "", shopOrigin, 403, false},
			{"invalid token", "x.y.z", a.ClientID, "", shopOrigin, 401, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := getProfile(t, in, tc.token, tc.apiKey, tc.customer, map[string]string{"Origin": tc.origin})
				if r.status != tc.status {
					t.Fatalf("status %d %v, want %d", r.status, r.body, tc.status)
				}
				if got := r.header.Get("Access-Control-Allow-Origin"); (got != "") != tc.acao || (tc.acao && got != tc.origin) {
					t.Fatalf("Access-Control-Allow-Origin %q, want it: %v", got, tc.acao)
				}
				if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
					t.Fatalf("no Vary: Origin: %v", r.header)
				}
			})
		}
	})
	t.Run("token endpoint never answers a browser for client credentials", func(t *testing.T) {
		for _, h := range []map[string]string{
			{"Origin": shopOrigin},
			{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"},
			{"Origin": "null"},
		} {
			h["Authorization"] = basic(a.ClientID, a.ClientSecret)
			r := postFormTo(t, in.PublicURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, h)
			if r.status != 400 || r.str("error") != "invalid_request" || r.str("access_token") != "" || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%v: %d %v %v", h, r.status, r.body, r.header)
			}
		}
		// client_secret_post from a browser form: no preflight, still refused.
		r := postFormTo(t, in.PublicURL+"/access_token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {a.ClientSecret},
		}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Mode": "navigate"})
		if r.status != 400 || r.str("access_token") != "" {
			t.Fatalf("form post: %d %v", r.status, r.body)
		}
	})
	t.Run("customer_authenticate answers only the app's origins", func(t *testing.T) {
		for origin, want := range map[string]bool{shopOrigin: true, "https://b.example": false} {
			r := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{
				"client_id": {a.ClientID}, "username": {"alice"}, "password": {"password-a"},
			}, map[string]string{"Origin": origin})
			if got := r.header.Get("Access-Control-Allow-Origin") == origin; got != want || (r.status == 200) != want {
				t.Fatalf("%s: %d ACAO %q", origin, r.status, r.header.Get("Access-Control-Allow-Origin"))
			}
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The customer_authenticate → getprofile flow works for every app, those
// with audiences of their own (as the README's quick start makes them)
// included: /getprofile is a resource of this server, like OpenID
// Connect's userinfo endpoint, and takes any valid appUser token this
// issuer issued to the app that X-API-Key names, whatever its aud. App
// tokens, which reach every user of their app, must still be meant for
// this server (tokens.default_audience).
func TestGetProfileForEveryApp(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	billing := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read"}, "audiences": []string{"https://api.example.com"}})
	shop := in.CreateApp(t, map[string]any{"name": "shop", "environment": "test", "scopes": []string{"profile"},
		"audiences": []string{"https://shop-api.example", "https://orders.example"}})
	createUser(t, in, shop.ClientID, "alice", "password-a", "")

	delegated := postFormTo(t, in.PublicURL+"/customer_authenticate", url.Values{"customer_id": {"user-42"}},
		map[string]string{"Authorization": basic(billing.ClientID, billing.ClientSecret)})
	if delegated.status != http.StatusOK {
		t.Fatalf("delegated: %d %v", delegated.status, delegated.body)
	}
	if aud := mustClaim(t, delegated.str("access_token"), "aud"); !reflect.DeepEqual(aud, []any{"https://api.example.com"}) && aud != "https://api.example.com" {
		t.Fatalf("the user token's aud %v: the test needs the app's own audience", aud)
	}
	login := loginToken(t, in, shop.ClientID, "alice", "password-a")

	for _, tc := range []struct {
		name, token, apiKey string
		status              int
		code, says          string
	}{
		{"delegated user of an app with an audience", delegated.str("access_token"), billing.ClientID, 200, "", ""},
		{"test user of an app with two audiences", login, shop.ClientID, 200, "", ""},
		{"app mismatch", login, billing.ClientID, 403, "invalid_api_key", "app"},
		{"app token for the app's own audience", token(t, in, billing), billing.ClientID, 401, "invalid_token", "audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := getProfile(t, in, tc.token, tc.apiKey, "", nil)
			if r.status != tc.status || r.str("error") != tc.code || !strings.Contains(r.str("error_description"), tc.says) {
				t.Fatalf("%d %v, want %d %s saying %q", r.status, r.body, tc.status, tc.code, tc.says)
			}
			if tc.status == 200 && (r.str("app_id") != tc.apiKey || r.str("customer") == "") {
				t.Fatalf("profile %v", r.body)
			}
		})
	}
}
