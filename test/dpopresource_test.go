package test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
	"github.com/authserver/authserver/verifier/dpop"
)

// dpopClient is a client's DPoP key pair.
type dpopClient struct {
	key crypto.Signer
	jkt string
}

func newDPoPClient(t testing.TB, ed bool) dpopClient {
	t.Helper()
	var key crypto.Signer
	var err error
	if ed {
		_, key, err = ed25519.GenerateKey(rand.Reader)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return dpopClient{key: key, jkt: jkt}
}

// proof is a proof for the request, issued at the server's clock.
func (c dpopClient) proof(t testing.TB, in *testserver.Instance, method, uri, token string, at time.Time) string {
	t.Helper()
	return c.proofWithNonce(t, in, method, uri, token, "", at)
}

// proofWithNonce is proof with the server's nonce.
func (c dpopClient) proofWithNonce(t testing.TB, in *testserver.Instance, method, uri, token, nonce string, at time.Time) string {
	t.Helper()
	if at.IsZero() {
		at = in.Clock.Now()
	}
	p, err := dpop.NewProof(c.key, dpop.ProofParams{Method: method, URI: uri, AccessToken: token, Nonce: nonce, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// callProfile POSTs to /getprofile with the Authorization value and DPoP
// header fields given, and the app's API key.
func callProfile(t testing.TB, in *testserver.Instance, authorization, apiKey, body string, proofs []string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.PublicURL+"/getprofile", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("X-API-Key", apiKey)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(data, &r.body); err != nil {
		t.Fatalf("body %q: %v", data, err)
	}
	return r
}

// The reference resource accepts a DPoP-bound token (cnf.jkt, RFC 9449
// §6.1) only as "Authorization: DPoP" with a fresh proof of its key for
// POST <issuer>/getprofile, and refuses each way of using a stolen or
// replayed one, with the challenge RFC 9449 §7.1 names, leaving the store
// as it was. The bound tokens are signed with the server's own key, as
// its token endpoint signs them.
func TestGetProfileDPoP(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	a := createTestApp(t, in, "a", shopOrigin)
	sub := createUser(t, in, a.ClientID, "alice", "password-a", "")
	client, thief := newDPoPClient(t, false), newDPoPClient(t, true)
	bound := serverSigned(t, in, with(tokenClaims(in, sub, a.ClientID, "appUser"), "cnf", map[string]any{"jkt": client.jkt}))
	bearer := serverSigned(t, in, tokenClaims(in, sub, a.ClientID, "appUser"))
	appBound := serverSigned(t, in, with(tokenClaims(in, a.ClientID, a.ClientID, "app"), "cnf", map[string]any{"jkt": client.jkt}))
	profileURL := in.PublicURL + "/getprofile"
	good := func() string { return client.proof(t, in, "POST", profileURL, bound, time.Time{}) }
	replayed := good()
	if r := callProfile(t, in, "DPoP "+bound, a.ClientID, "", []string{replayed}, nil); r.status != 200 || r.str("username") != "alice" {
		t.Fatalf("first use of a proof: %d %v", r.status, r.body)
	}
	before := in.DumpStore(t)
	now := in.Clock.Now()
	tests := []struct {
		name          string
		authorization string
		proofs        []string
		body          string
		status        int
		code          string
		says          string
	}{
		{name: "bound appUser token with its proof", authorization: "DPoP " + bound, proofs: []string{good()}, status: 200},
		{name: "scheme in another case", authorization: "dpop " + bound, proofs: []string{good()}, status: 200},
		{name: "bound app token with its proof", authorization: "DPoP " + appBound, body: `{"customer":"` + sub + `"}`,
			proofs: []string{client.proof(t, in, "POST", profileURL, appBound, time.Time{})}, status: 200},
		{name: "bearer token as before", authorization: "Bearer " + bearer, status: 200},

		{name: "bearer use of a bound token", authorization: "Bearer " + bound, status: 401, code: "invalid_token", says: "DPoP-bound"},
		{name: "bearer use of a bound token, with a proof", authorization: "Bearer " + bound, proofs: []string{good()},
			status: 401, code: "invalid_token", says: "DPoP-bound"},
		{name: "proof from another key", authorization: "DPoP " + bound, proofs: []string{thief.proof(t, in, "POST", profileURL, bound, time.Time{})},
			status: 401, code: "invalid_token", says: "not the key"},
		{name: "replayed proof", authorization: "DPoP " + bound, proofs: []string{replayed}, status: 401, code: "invalid_dpop_proof", says: "already used"},
		{name: "proof for another htu", authorization: "DPoP " + bound, proofs: []string{client.proof(t, in, "POST", in.PublicURL+"/oauth2/introspect", bound, time.Time{})},
			status: 401, code: "invalid_dpop_proof", says: "htu"},
		{name: "proof for another host", authorization: "DPoP " + bound, proofs: []string{client.proof(t, in, "POST", "https://api.example.com/getprofile", bound, time.Time{})},
			status: 401, code: "invalid_dpop_proof", says: "htu"},
		{name: "proof for another htm", authorization: "DPoP " + bound, proofs: []string{client.proof(t, in, "GET", profileURL, bound, time.Time{})},
			status: 401, code: "invalid_dpop_proof", says: "htm"},
		{name: "stale proof", authorization: "DPoP " + bound, proofs: []string{client.proof(t, in, "POST", profileURL, bound, now.Add(-2*time.Minute))},
			status: 401, code: "invalid_dpop_proof", says: "iat"},
		{name: "proof for another token", authorization: "DPoP " + bound, proofs: []string{client.proof(t, in, "POST", profileURL, bearer, time.Time{})},
			status: 401, code: "invalid_dpop_proof", says: "ath"},
		{name: "proof without ath", authorization: "DPoP " + bound, proofs: []string{client.proof(t, in, "POST", profileURL, "", time.Time{})},
			status: 401, code: "invalid_dpop_proof", says: "ath"},
		{name: "no proof", authorization: "DPoP " + bound, status: 401, code: "invalid_dpop_proof", says: "DPoP header missing"},
		{name: "two proofs", authorization: "DPoP " + bound, proofs: []string{good(), good()}, status: 401, code: "invalid_dpop_proof", says: "more than one"},
		{name: "unbound token with the DPoP scheme", authorization: "DPoP " + bearer, proofs: []string{client.proof(t, in, "POST", profileURL, bearer, time.Time{})},
			status: 401, code: "invalid_token", says: "not DPoP-bound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := callProfile(t, in, tc.authorization, a.ClientID, tc.body, tc.proofs, nil)
			if r.status != tc.status {
				t.Fatalf("%d %v, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 200 {
				return
			}
			www := r.header.Values("WWW-Authenticate")
			desc := r.str("error_description")
			if r.str("error") != tc.code || !strings.Contains(desc, tc.says) || len(www) != 1 ||
				!strings.HasPrefix(www[0], `DPoP realm="authserver", error="`+tc.code+`", error_description="`+desc+`", algs="`) {
				t.Fatalf("%v %q, want %s saying %q in a DPoP challenge", r.body, www, tc.code, tc.says)
			}
		})
	}
	// A request without a token is challenged with both schemes.
	r := callProfile(t, in, "", a.ClientID, "", nil, nil)
	if www := r.header.Values("WWW-Authenticate"); r.status != 401 || len(www) != 2 || www[0] != `Bearer realm="authserver"` ||
		!strings.HasPrefix(www[1], `DPoP realm="authserver", algs="ES256 `) {
		t.Fatalf("no token: %d %q", r.status, www)
	}
	unchanged(t, in, before)
}

// A browser with a bound appUser token: the preflight may ask for the
// DPoP header, and the answer exposes WWW-Authenticate and DPoP-Nonce to
// the page, a refused proof's too.
func TestGetProfileDPoPFromBrowser(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	a := createTestApp(t, in, "a", shopOrigin)
	sub := createUser(t, in, a.ClientID, "alice", "password-a", "")
	client := newDPoPClient(t, false)
	bound := serverSigned(t, in, with(tokenClaims(in, sub, a.ClientID, "appUser"), "cnf", map[string]any{"jkt": client.jkt}))

	pre := do(t, http.MethodOptions, in.PublicURL+"/getprofile", nil, map[string]string{
		"Origin": shopOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, dpop, x-api-key",
	})
	if pre.header.Get("Access-Control-Allow-Origin") != shopOrigin || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "DPoP") {
		t.Fatalf("preflight for DPoP: %d %v", pre.status, pre.header)
	}
	origin := map[string]string{"Origin": shopOrigin}
	for name, tc := range map[string]struct {
		proofs []string
		status int
	}{
		"with its proof":  {[]string{client.proof(t, in, "POST", in.PublicURL+"/getprofile", bound, time.Time{})}, 200},
		"without a proof": {nil, 401},
	} {
		r := callProfile(t, in, "DPoP "+bound, a.ClientID, "", tc.proofs, origin)
		if r.status != tc.status || r.header.Get("Access-Control-Allow-Origin") != shopOrigin ||
			r.header.Get("Access-Control-Expose-Headers") != "WWW-Authenticate, DPoP-Nonce" {
			t.Fatalf("%s: %d %v", name, r.status, r.header)
		}
	}
}

// The whole flow with tokens the server issues: a test user's token bound
// at /customer_authenticate reads its profile with a proof of its key,
// and only so; with proofs remembered in the database, a proof spent at
// one instance is refused at another that shares it (with the issuer's
// URL in htu, whichever instance answers); a bound token in cookie mode
// passes with the cookie and a proof carrying the ath the login
// answered, and not with the cookie alone.
func TestGetProfileWithIssuedDPoPTokens(t *testing.T) {
	t.Parallel()
	first := startUsers(t, func(c *server.Config) { c.DPoP.Replay = "database" })
	peer := startPeer(t, first, func(c *server.Config) { c.Issuer = first.PublicURL })
	app := createTestApp(t, first, "shop")
	createUser(t, first, app.ClientID, "alice", "password-a", "")
	client := newDPoPClient(t, false)
	login := first.PublicURL + "/customer_authenticate"
	profile := first.PublicURL + "/getprofile"
	form := url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-a"}}

	r := postFormTo(t, login, form, map[string]string{"DPoP": client.proof(t, first, "POST", login, "", time.Time{})})
	bound := r.str("access_token")
	if r.status != 200 || r.str("token_type") != "DPoP" || bound == "" {
		t.Fatalf("bound login: %d %v", r.status, r.body)
	}
	proof := client.proof(t, first, "POST", profile, bound, time.Time{})
	if p := callProfile(t, first, "DPoP "+bound, app.ClientID, "", []string{proof}, nil); p.status != 200 || p.str("username") != "alice" {
		t.Fatalf("bound token with its proof: %d %v", p.status, p.body)
	}
	for name, in := range map[string]*testserver.Instance{"the same instance": first, "another instance": peer} {
		if p := callProfile(t, in, "DPoP "+bound, app.ClientID, "", []string{proof}, nil); p.status != 401 ||
			p.str("error") != "invalid_dpop_proof" || !strings.Contains(p.str("error_description"), "already used") {
			t.Fatalf("the proof again at %s: %d %v", name, p.status, p.body)
		}
	}
	if p := callProfile(t, peer, "DPoP "+bound, app.ClientID, "", []string{client.proof(t, first, "POST", profile, bound, time.Time{})}, nil); p.status != 200 {
		t.Fatalf("a fresh proof at another instance: %d %v", p.status, p.body)
	}
	if p := callProfile(t, first, "Bearer "+bound, app.ClientID, "", nil, nil); p.status != 401 || !strings.Contains(p.str("error_description"), "DPoP-bound") {
		t.Fatalf("the bound token as a bearer token: %d %v", p.status, p.body)
	}

	// Cookie mode.
	cookieForm := url.Values{"response_mode": {"cookie"}}
	for k, v := range form {
		cookieForm[k] = v
	}
	r = postFormTo(t, login, cookieForm, map[string]string{"DPoP": client.proof(t, first, "POST", login, "", time.Time{})})
	if r.status != 200 || r.str("token_type") != "DPoP" || len(r.cookie) != 1 || r.str("ath") == "" {
		t.Fatalf("bound login in cookie mode: %d %v %v", r.status, r.body, r.cookie)
	}
	cookie := map[string]string{"Cookie": r.cookie[0].Name + "=" + r.cookie[0].Value}
	withCookie := client.proof(t, first, "POST", profile, r.cookie[0].Value, time.Time{})
	if claims := proofClaimsOf(t, withCookie); claims["ath"] != r.str("ath") {
		t.Fatalf("the proof's ath %v is not the login's %q", claims["ath"], r.str("ath"))
	}
	if p := callProfile(t, first, "", app.ClientID, "", []string{withCookie}, cookie); p.status != 200 || p.str("username") != "alice" {
		t.Fatalf("the cookie with its proof: %d %v", p.status, p.body)
	}
	if p := callProfile(t, first, "", app.ClientID, "", nil, cookie); p.status != 401 || !strings.Contains(p.str("error_description"), "DPoP-bound") {
		t.Fatalf("the cookie alone: %d %v", p.status, p.body)
	}
}

// An app that requires nonces (dpop_nonce_required) requires them at
// /getprofile too (RFC 9449 §9), from the same source as the token
// endpoint's, since clients keep one nonce per origin: a proof without
// one gets use_dpop_nonce and a DPoP-Nonce, the token endpoint's nonce
// passes at once, and the answer carries the current nonce.
func TestGetProfileDPoPNonce(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := in.CreateApp(t, map[string]any{"name": "nonces", "environment": "test", "dpop_nonce_required": true})
	createUser(t, in, app.ClientID, "alice", "password-a", "")
	client := newDPoPClient(t, true)
	login := in.PublicURL + "/customer_authenticate"
	profile := in.PublicURL + "/getprofile"
	form := url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-a"}}

	r := postFormTo(t, login, form, map[string]string{"DPoP": client.proof(t, in, "POST", login, "", time.Time{})})
	tokenNonce := r.header.Get("DPoP-Nonce")
	if r.status != 400 || r.str("error") != "use_dpop_nonce" || tokenNonce == "" {
		t.Fatalf("login without a nonce: %d %v", r.status, r.body)
	}
	r = postFormTo(t, login, form, map[string]string{"DPoP": client.proofWithNonce(t, in, "POST", login, "", tokenNonce, time.Time{})})
	bound := r.str("access_token")
	if r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("login with the nonce: %d %v", r.status, r.body)
	}
	p := callProfile(t, in, "DPoP "+bound, app.ClientID, "", []string{client.proofWithNonce(t, in, "POST", profile, bound, "", time.Time{})}, nil)
	nonce := p.header.Get("DPoP-Nonce")
	if p.status != 401 || p.str("error") != "use_dpop_nonce" || nonce != tokenNonce ||
		!strings.HasPrefix(p.header.Get("WWW-Authenticate"), `DPoP realm="authserver", error="use_dpop_nonce"`) {
		t.Fatalf("no nonce: %d %v %v", p.status, p.body, p.header)
	}
	p = callProfile(t, in, "DPoP "+bound, app.ClientID, "", []string{client.proofWithNonce(t, in, "POST", profile, bound, tokenNonce, time.Time{})}, nil)
	if p.status != 200 || p.str("username") != "alice" || p.header.Get("DPoP-Nonce") != tokenNonce {
		t.Fatalf("the token endpoint's nonce: %d %v %v", p.status, p.body, p.header)
	}
	p = callProfile(t, in, "DPoP "+bound, app.ClientID, "", []string{client.proofWithNonce(t, in, "POST", profile, bound, "not-a-nonce", time.Time{})}, nil)
	if p.status != 401 || p.str("error") != "use_dpop_nonce" || p.header.Get("DPoP-Nonce") != tokenNonce {
		t.Fatalf("a forged nonce: %d %v %v", p.status, p.body, p.header)
	}
}

// proofClaimsOf decodes a proof's claims, unverified.
func proofClaimsOf(t testing.TB, proof string) map[string]any {
	t.Helper()
	parts := strings.Split(proof, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		t.Fatalf("proof claims %q: %v", raw, err)
	}
	return claims
}
