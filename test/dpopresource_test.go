package test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
	if at.IsZero() {
		at = in.Clock.Now()
	}
	p, err := dpop.NewProof(c.key, dpop.ProofParams{Method: method, URI: uri, AccessToken: token, Now: at})
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
