package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/test/testserver"
	"github.com/authserver/authserver/verifier/dpop"
)

// runSplit runs the CLI in-process and returns its standard output and
// standard error apart.
func runSplit(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// keyFileJKT reads a PEM private key file independently of the CLI and
// returns its public key's thumbprint.
func keyFileJKT(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s is not a PKCS #8 PEM file", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("generated key %T is not P-256", key)
	}
	jkt, err := dpop.Thumbprint(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

// verifyProof checks a proof the CLI printed with the dpop package's
// verifier, for method and uri with token's hash, and returns its key's
// thumbprint.
func verifyProof(t *testing.T, proof, method, uri, token string) string {
	t.Helper()
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: method, URI: uri, AccessToken: token})
	if err != nil {
		t.Fatalf("the printed proof: %v", err)
	}
	return p.JKT
}

// parseHeaders reads "Name: value" lines (what -o headers prints).
func parseHeaders(t *testing.T, out string) http.Header {
	t.Helper()
	h := http.Header{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Fatalf("not a header line: %q", sc.Text())
		}
		h.Add(name, value)
	}
	return h
}

// postProfile calls /getprofile with the headers given and the app's API
// key, and returns the status.
func postProfile(t *testing.T, in *testserver.Instance, h http.Header, apiKey string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.PublicURL+"/getprofile", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate") + " " + string(body)
}

// jwtClaims decodes a JWT's claims, unverified (the server's own tests
// verify its signatures).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("claims %q: %v", raw, err)
	}
	return c
}

// token --dpop-key against a real server: the key is generated once,
// mode 0600, and said so on stderr; the token is bound to it (token_type
// DPoP, cnf.jkt its thumbprint), for an app that requires nonces too (the
// CLI answers use_dpop_nonce); -o json carries the key's thumbprint and a
// proof for --dpop-resource with the token's hash.
func TestTokenCommandDPoP(t *testing.T) {
	in := testserver.Start(t)
	keyFile := filepath.Join(t.TempDir(), "dpop.pem")
	resource := in.PublicURL + "/getprofile"
	var jkt string
	for i, policy := range []map[string]any{{}, {"dpop_nonce_required": true}, {"dpop_bound_access_tokens": true}} {
		app := in.CreateApp(t, mergeMaps(map[string]any{"name": fmt.Sprintf("dpop-%d", i), "scopes": []string{"read"}}, policy))
		stdout, stderr, err := runSplit(t, "", "token", "--client-id", app.ClientID, "--client-secret", app.ClientSecret,
			"--token-url", in.PublicURL+"/oauth2/token", "--dpop-key", keyFile, "--dpop-resource", resource, "-o", "json")
		if err != nil {
			t.Fatalf("token for %v: %v\n%s", policy, err, stderr)
		}
		if generated := strings.Contains(stderr, "generated a P-256 DPoP key in "+keyFile); generated != (i == 0) {
			t.Fatalf("run %d: stderr %q", i, stderr)
		}
		if i == 0 {
			st, err := os.Stat(keyFile)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", st, err)
			}
			jkt = keyFileJKT(t, keyFile)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("output %q: %v", stdout, err)
		}
		tok, _ := out["access_token"].(string)
		proof, _ := out["dpop_proof"].(string)
		if tok == "" || out["token_type"] != "DPoP" || out["dpop_jkt"] != jkt || verifyProof(t, proof, "POST", resource, tok) != jkt ||
			strings.Contains(stderr, "not bound") {
			t.Fatalf("%v: output %v, stderr %q; want a DPoP token and the key's jkt %s", policy, out, stderr, jkt)
		}
		if cnf, _ := jwtClaims(t, tok)["cnf"].(map[string]any); cnf["jkt"] != jkt {
			t.Fatalf("%v: cnf %v, want jkt %s", policy, cnf, jkt)
		}
	}
	if _, _, err := runSplit(t, "", "token", "--client-id", "x", "--client-secret", "y",
		"--dpop-resource", resource); err == nil || !strings.Contains(err.Error(), "--dpop-key") {
		t.Fatalf("--dpop-resource without --dpop-key: %v", err)
	}
}

func mergeMaps(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// fakeTokenEndpoint checks the DPoP proof of each token request with the
// dpop package and requires its nonce (RFC 9449 §8): the first request
// gets 400 use_dpop_nonce and a DPoP-Nonce; one with the nonce gets a
// DPoP-bound token.
type fakeTokenEndpoint struct {
	*httptest.Server
	v      *dpop.Verifier
	mu     sync.Mutex
	bodies []string
	jkts   []string
}

func newFakeTokenEndpoint(t *testing.T) *fakeTokenEndpoint {
	nonces, err := dpop.NewNonceSource([]byte(strings.Repeat("s", 32)), time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(0, nil), Nonces: nonces})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTokenEndpoint{v: v}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, _, _ := r.BasicAuth()
		f.mu.Lock()
		f.bodies = append(f.bodies, user+" "+string(body))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		p, err := f.v.Verify(r.Context(), dpop.Request{Proofs: r.Header.Values("DPoP"), Method: r.Method,
			URI: f.URL + r.URL.Path, RequireNonce: true})
		if e, ok := err.(*dpop.Error); ok {
			if e.Nonce != "" {
				w.Header().Set("DPoP-Nonce", e.Nonce)
			}
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Description})
			return
		}
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		f.mu.Lock()
		f.jkts = append(f.jkts, p.JKT)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-" + p.JKT[:8], "token_type": "DPoP", "expires_in": 300})
	}))
	t.Cleanup(f.Close)
	return f
}

// The CLI's proofs at a token endpoint that requires a nonce: the first
// request is answered use_dpop_nonce, the CLI retries once with the nonce
// and the same body and credentials; the token comes back bound, with no
// warning, and -o headers prints what a resource needs, the resource's
// proof without the token endpoint's nonce.
func TestTokenCommandDPoPNonce(t *testing.T) {
	f := newFakeTokenEndpoint(t)
	keyFile := filepath.Join(t.TempDir(), "dpop.pem")
	stdout, stderr, err := runSplit(t, "", "token", "--client-id", "app_test_x", "--client-secret", "sk_test_x",
		"--token-url", f.URL+"/token", "--dpop-key", keyFile, "--dpop-resource", "https://api.example.com/orders?page=2",
		"--dpop-method", "GET", "-o", "headers")
	if err != nil {
		t.Fatalf("token: %v\n%s", err, stderr)
	}
	jkt := keyFileJKT(t, keyFile)
	f.mu.Lock()
	bodies, jkts := f.bodies, f.jkts
	f.mu.Unlock()
	if len(bodies) != 2 || bodies[0] != bodies[1] || !strings.Contains(bodies[0], "app_test_x grant_type=client_credentials") ||
		len(jkts) != 1 || jkts[0] != jkt {
		t.Fatalf("token requests %q, bound to %v; want two equal requests, the second bound to %s", bodies, jkts, jkt)
	}
	if strings.Contains(stderr, "not bound") {
		t.Fatalf("warning for a bound token: %q", stderr)
	}
	h := parseHeaders(t, stdout)
	tok := "tok-" + jkt[:8]
	if h.Get("Authorization") != "DPoP "+tok || len(h.Values("DPoP")) != 1 {
		t.Fatalf("headers %q", stdout)
	}
	if verifyProof(t, h.Get("DPoP"), "GET", "https://api.example.com/orders", tok) != jkt {
		t.Fatal("the resource proof is not from the key")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(h.Get("DPoP"), ".")[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("proof claims %q: %v", payload, err)
	}
	if _, ok := claims["nonce"]; ok {
		t.Fatalf("the resource proof carries the token endpoint's nonce: %v", claims)
	}
	shell, _, err := runSplit(t, "", "token", "--client-id", "app_test_x", "--client-secret", "sk_test_x",
		"--token-url", f.URL+"/token", "--dpop-key", keyFile, "--dpop-resource", "https://api.example.com/orders", "-o", "shell")
	if err != nil || !strings.Contains(shell, "export AUTHSERVER_ACCESS_TOKEN='"+tok+"'\n") ||
		!strings.Contains(shell, "export AUTHSERVER_TOKEN_TYPE='DPoP'\n") || !strings.Contains(shell, "export AUTHSERVER_DPOP_PROOF='ey") {
		t.Fatalf("-o shell: %v\n%s", err, shell)
	}
}

// A test harness in one command: customer-token with --dpop-key and
// --dpop-resource prints the headers of the /getprofile call with a token
// bound to the key, which the resource accepts once; dpop-proof makes the
// next proof for the same token; the token alone, as a bearer token, is
// refused.
func TestCustomerTokenAndProofDPoP(t *testing.T) {
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "shop", "environment": "test"})
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/apps/"+app.ClientID+"/users",
		map[string]any{"username": "alice", "password": "s3cret-password"}, nil); status != http.StatusCreated {
		t.Fatalf("create user: %d", status)
	}
	keyFile := filepath.Join(t.TempDir(), "dpop.pem")
	resource := in.PublicURL + "/getprofile"
	stdout, stderr, err := runSplit(t, "s3cret-password\n", "customer-token", "--url", in.PublicURL+"/customer_authenticate",
		"--client-id", app.ClientID, "--username", "alice", "--password-stdin",
		"--dpop-key", keyFile, "--dpop-resource", resource, "-o", "headers")
	if err != nil {
		t.Fatalf("customer-token: %v\n%s", err, stderr)
	}
	h := parseHeaders(t, stdout)
	bound, ok := strings.CutPrefix(h.Get("Authorization"), "DPoP ")
	jkt := keyFileJKT(t, keyFile)
	if cnf, _ := jwtClaims(t, bound)["cnf"].(map[string]any); !ok || cnf["jkt"] != jkt {
		t.Fatalf("headers %q: want a DPoP token bound to %s", stdout, jkt)
	}
	for i, want := range []int{200, 401} { // the second use is a replay
		if status, body := postProfile(t, in, h, app.ClientID); status != want {
			t.Fatalf("use %d of the printed headers: %d %s, want %d", i+1, status, body, want)
		}
	}
	stdout, stderr, err = runSplit(t, "", "dpop-proof", "--key", keyFile, "--url", resource, "--token", bound, "-o", "headers")
	if err != nil || stderr != "" {
		t.Fatalf("dpop-proof: %v %q", err, stderr)
	}
	if status, body := postProfile(t, in, parseHeaders(t, stdout), app.ClientID); status != 200 {
		t.Fatalf("the next call with dpop-proof's headers: %d %s", status, body)
	}
	if status, body := postProfile(t, in, http.Header{"Authorization": {"Bearer " + bound}}, app.ClientID); status != 401 ||
		!strings.Contains(body, "DPoP-bound") {
		t.Fatalf("bearer use of the bound token: %d %s", status, body)
	}
	// The token from the environment; the bare proof; json with the
	// thumbprint.
	t.Setenv("AUTHSERVER_ACCESS_TOKEN", bound)
	proof, _, err := runSplit(t, "", "dpop-proof", "--key", keyFile, "--url", resource+"?x=1", "--method", "GET")
	if err != nil || verifyProof(t, strings.TrimSpace(proof), "GET", resource, bound) != jkt {
		t.Fatalf("bare proof: %v %q", err, proof)
	}
	out, _, err := runSplit(t, "", "dpop-proof", "--key", keyFile, "--url", resource, "-o", "json")
	var j map[string]string
	if err != nil || json.Unmarshal([]byte(out), &j) != nil || j["dpop_jkt"] != jkt || verifyProof(t, j["dpop_proof"], "POST", resource, bound) != jkt {
		t.Fatalf("json: %v %q", err, out)
	}
}

// The key files the CLI reads: PKCS #8, SEC 1 and PKCS #1 PEM of the key
// types proofs use; anything else is refused with a reason, and a key
// readable by others is used with a warning.
func TestDPoPKeyFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1, _ := x509.MarshalECPrivateKey(p256)
	pub, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	for _, tc := range []struct {
		name string
		pem  []byte
		mode os.FileMode
		pub  crypto.PublicKey // nil: refused
		says string           // in the error, or the warning
	}{
		{"PKCS #8 P-256", pkcs8(p256), 0o600, &p256.PublicKey, ""},
		{"SEC 1 P-256", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600, &p256.PublicKey, ""},
		{"PKCS #8 Ed25519", pkcs8(ed), 0o600, ed.Public(), ""},
		{"PKCS #1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), 0o600, &rsaKey.PublicKey, ""},
		{"readable by others", pkcs8(p256), 0o644, &p256.PublicKey, "readable by others"},
		{"P-384", pkcs8(p384), 0o600, nil, "P-256"},
		{"a public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600, nil, "not a private key"},
		{"not PEM", []byte("hello"), 0o600, nil, "not a PEM file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pem")
			if err := os.WriteFile(path, tc.pem, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			key, err := loadOrCreateKey(path, &stderr)
			if tc.pub == nil {
				if err == nil || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("loaded %T, %v; want an error saying %q", key, err, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := dpop.Thumbprint(tc.pub)
			got, _ := dpop.Thumbprint(key.Public())
			if got != want || strings.Contains(stderr.String(), "readable") != (tc.says != "") {
				t.Fatalf("jkt %s (want %s), stderr %q", got, want, stderr.String())
			}
		})
	}
}

// A missing key file is created once, whole and 0600: harness processes
// that race to create it all end up with the same key, and none reads a
// half-written file; a dangling symlink at the path is an error, not
// followed to create its target.
func TestDPoPKeyCreation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "dpop.pem")
	const n = 8
	jkts := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := loadOrCreateKey(path, io.Discard)
			if err != nil {
				errs[i] = err
				return
			}
			jkts[i], errs[i] = dpop.Thumbprint(key.Public())
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || jkts[i] != jkts[0] {
			t.Fatalf("process %d: jkt %q, %v; want %q", i, jkts[i], errs[i], jkts[0])
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".dpop-key-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}

	target := filepath.Join(dir, "elsewhere", "key.pem")
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if key, err := loadOrCreateKey(link, io.Discard); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("dangling symlink: %T, %v; want a not-exist error", key, err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the symlink's target was created: %v", err)
	}
}
