package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// pythonBin is Debian's interpreter, which Debian's python3-* packages
// install into (another python3 on PATH, such as pyenv's, lacks them).
const pythonBin = "/usr/bin/python3"

// jacksonJars are Debian's Jackson (libjackson2-databind-java and what it
// depends on), the Java runner's JSON: Maven Central is out of reach, so
// the runner's classpath is what Debian installs.
var jacksonJars = []string{
	"/usr/share/java/jackson-databind.jar",
	"/usr/share/java/jackson-core.jar",
	"/usr/share/java/jackson-annotations.jar",
}

// Bounds on one runner phase: every row has its own shorter timeout in
// the runners, and the verify-rotated rows may retry for retrySeconds.
const (
	phaseTimeout = 3 * time.Minute
	appAudience  = "https://api.interop.test"
	appScope     = "read"
	customerID   = "user-42"
)

// result is one row of the matrix, judged.
type result struct {
	alg, library, scenario string
	outcome                string // outcomePass, outcomeXFail or outcomeFail
	// why is the expectation's reason for an expected failure, the
	// problem for a failure.
	why string
}

const (
	outcomePass  = "pass"
	outcomeXFail = "expected failure"
	outcomeFail  = "FAIL"
)

// serverRun is what one server's column produced.
type serverRun struct {
	results  []result
	runtimes map[string]string // runner -> runtime version
	versions map[string]string // library -> version
}

// TestMain runs the three servers' columns at once unless -parallel says
// otherwise: they wait on the network and on the libraries' JWKS
// cooldowns (30 s for jose) rather than on the CPU, and the default
// (GOMAXPROCS, 2 on the CI machine) would run the third column after the
// first two.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(len(serverAlgs))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// TestInterop runs the matrix: for each signing algorithm a server
// process, the app a README reader would create, and every library's
// rows; then it writes docs/interop.md and fails on every row that
// neither passed nor failed as expected.
func TestInterop(t *testing.T) {
	start := time.Now()
	root := repoRoot(t)
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	checkTools(t, here)

	bins := t.TempDir()
	serverBin, goclientBin := filepath.Join(bins, "authserver"), filepath.Join(bins, "goclient")
	ctx := context.Background()
	var buildErrs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { buildErrs[0] = goBuild(ctx, root, serverBin, "./cmd/authserver") })
	wg.Go(func() { buildErrs[1] = goBuild(ctx, here, goclientBin, "./goclient") })
	wg.Wait()
	for _, err := range buildErrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("built the server and the Go clients in %v", time.Since(start).Round(time.Second))

	keys := newClientKeys(t)
	runs := make([]*serverRun, len(serverAlgs))
	t.Run("servers", func(t *testing.T) {
		for i, alg := range serverAlgs {
			t.Run(alg, func(t *testing.T) {
				t.Parallel()
				runs[i] = runServer(t, alg, serverBin, goclientBin, here, keys)
			})
		}
	})
	for _, r := range runs {
		if r == nil {
			t.Fatal("a server's column did not complete; docs/interop.md is left as it was")
		}
	}
	m := newMatrix(runs)
	if err := os.WriteFile(filepath.Join(root, "docs", "interop.md"), []byte(m.markdown()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, r := range m.results {
		if r.outcome == outcomeFail {
			t.Errorf("%s | %s | %s: %s", r.library, r.scenario, r.alg, r.why)
		}
	}
	pass, xfail, fail := m.counts()
	t.Logf("%d rows: %d passed, %d expected failures, %d failed; wall time %v (docs/interop.md written)",
		len(m.results), pass, xfail, fail, time.Since(start).Round(time.Second))
}

// checkTools fails with what to install when a client runtime is missing:
// a matrix that skips a runtime would show nothing about it.
func checkTools(t *testing.T, here string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed (.ci/run installs Debian's nodejs)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed")
	}
	if _, err := os.Stat(filepath.Join(here, "node", "node_modules")); err != nil {
		t.Fatal("the Node clients are not installed: run `npm ci` in test/interop/node")
	}
	check := exec.Command(pythonBin, "-c", "import authlib, requests_oauthlib, jwt, jwcrypto, requests")
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("the Python clients are not installed (apt-get install python3-authlib python3-requests-oauthlib python3-jwt python3-jwcrypto): %v\n%s", err, out)
	}
	// java and javac: the source launcher that runs java/Run.java
	// compiles it, which a JRE alone cannot.
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the Java clients need a JDK 17 or later (apt-get install default-jdk-headless)", tool)
		}
	}
	for _, jar := range jacksonJars {
		if _, err := os.Stat(jar); err != nil {
			t.Fatalf("the Java runner's JSON library is not installed (apt-get install libjackson2-databind-java): %v", err)
		}
	}
}

// clientKeys are the app's assertion keys: private JWKs for the clients
// and the public JWK Set registered with the server.
type clientKeys struct {
	private map[string]json.RawMessage // by RS256, ES256, Ed25519
	public  json.RawMessage
}

func newClientKeys(t *testing.T) clientKeys {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ck := clientKeys{private: map[string]json.RawMessage{}}
	pub := jwk.NewSet()
	for _, k := range []struct {
		name, kid string
		raw       any
	}{{"RS256", "app-rsa", rsaKey}, {"ES256", "app-ec", ecKey}, {"Ed25519", "app-ed25519", edKey}} {
		key, err := jwk.Import(k.raw)
		if err != nil {
			t.Fatalf("import the %s key: %v", k.name, err)
		}
		if err := key.Set(jwk.KeyIDKey, k.kid); err != nil {
			t.Fatal(err)
		}
		if ck.private[k.name], err = json.Marshal(key); err != nil {
			t.Fatal(err)
		}
		pk, err := key.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := pk.Set(jwk.KeyUsageKey, "sig"); err != nil {
			t.Fatal(err)
		}
		if err := pub.AddKey(pk); err != nil {
			t.Fatal(err)
		}
	}
	if ck.public, err = json.Marshal(pub); err != nil {
		t.Fatal(err)
	}
	return ck
}

// secureModeKey names the assertion key that signs the secure-mode row of
// a server's column, and the alg it signs with.
var secureModeKey = map[string]struct{ key, alg string }{
	"RS256": {"RS256", "RS256"},
	"ES256": {"ES256", "ES256"},
	"EdDSA": {"Ed25519", "EdDSA"},
}

// runServer runs one column: a server with tokens.algorithm alg, set up
// through the CLI as the README does, every runner's rows, the rotation,
// the verify-rotated rows.
func runServer(t *testing.T, alg, serverBin, goclientBin, here string, keys clientKeys) *serverRun {
	started := time.Now()
	s := startServer(t, serverBin, alg)
	j := setUp(t, s, keys)
	t.Logf("server started and set up in %v", time.Since(started).Round(time.Second))

	byRunner := map[string][]jobRow{}
	for _, l := range libraries {
		for _, sc := range l.scenarios {
			byRunner[l.runner] = append(byRunner[l.runner], jobRow{Library: l.name, Scenario: sc, RetrySeconds: l.retrySeconds})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	argv := map[string][]string{
		runnerNode:   {"node", "run.mjs"},
		runnerPython: {pythonBin, "run.py"},
		runnerGo:     {goclientBin},
		// The JDK's single-file source launcher: Run.java is compiled in
		// memory at each start, no build step (java/Run.java says why).
		runnerJava: {"java", "-cp", strings.Join(jacksonJars, string(filepath.ListSeparator)), "Run.java"},
	}
	dirs := map[string]string{runnerNode: filepath.Join(here, "node"), runnerPython: filepath.Join(here, "python"), runnerGo: here,
		runnerJava: filepath.Join(here, "java")}
	var runners []*runner
	for _, name := range []string{runnerNode, runnerPython, runnerJava, runnerGo} {
		rj := j
		rj.Rows = byRunner[name]
		r, err := startRunner(ctx, name, dirs[name], rj, argv[name]...)
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
	}
	run := &serverRun{runtimes: map[string]string{}, versions: map[string]string{}}
	var got []rowResult
	curlRows := make(chan []rowResult, 1)
	go func() { curlRows <- runCurl(ctx, j, byRunner[runnerCurl], serverBin) }()
	for _, r := range runners {
		rows, err := r.collect("before", phaseTimeout)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
	}
	got = append(got, <-curlRows...)
	run.runtimes[runnerCurl], run.versions["curl"] = curlVersion(t)

	t.Logf("rows before the rotation done at %v", time.Since(started).Round(time.Second))
	tokenAfter := rotate(t, s, j)
	for _, r := range runners {
		if err := r.send(afterRotation{Phase: "after", Token: tokenAfter}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range runners {
		rows, err := r.collect("after", phaseTimeout)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
		if err := r.finish(); err != nil {
			t.Fatal(err)
		}
		run.runtimes[r.name] = r.runtime
		for lib, v := range r.versions {
			run.versions[lib] = v
		}
	}
	t.Logf("rows after the rotation done at %v", time.Since(started).Round(time.Second))
	for _, g := range got {
		if g.Detail != "" && g.Scenario == scVerifyRotated {
			t.Logf("%s | %s: %s", g.Library, g.Scenario, g.Detail)
		}
	}
	run.results = judge(alg, j, tokenAfter, got)
	return run
}

// setUp creates the app as the README's quick start does (a scope and an
// audience), registers its assertion keys with secret signing, creates
// the secret that can sign client_secret_jwt, reads the metadata and gets
// the token the verifiers start with.
func setUp(t *testing.T, s *server, keys clientKeys) job {
	var app struct {
		ClientID string `json:"client_id"`
	}
	s.cli(t, &app, nil, "apps", "create", "--name", "interop", "--scope", "read", "--scope", "write", "--audience", appAudience)
	s.cli(t, nil, strings.NewReader(string(keys.public)), "assertion-keys", "set", app.ClientID, "--jwks-file", "-", "--secret-signing")
	var secret struct {
		ID     string `json:"secret_id"`
		Secret string `json:"client_secret"`
	}
	s.cli(t, &secret, nil, "apps", "secrets", "create", app.ClientID)
	var nonceApp struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	s.cli(t, &nonceApp, nil, "apps", "create", "--name", "interop-dpop-nonces", "--scope", "read", "--dpop-nonce-required")

	var md map[string]any
	resp, err := http.Get(s.issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	str := func(k string) string {
		v, _ := md[k].(string)
		if v == "" {
			t.Fatalf("the metadata has no %s", k)
		}
		return v
	}
	sm := secureModeKey[s.alg]
	j := job{
		ServerAlg: s.alg, Issuer: s.issuer,
		TokenEndpoint: str("token_endpoint"), IntrospectionEndpoint: str("introspection_endpoint"),
		RevocationEndpoint: str("revocation_endpoint"), CustomerAuthenticateEndpoint: str("customer_authenticate_endpoint"),
		GetProfileEndpoint: s.issuer + "/getprofile", JWKSURI: str("jwks_uri"),
		ClientID: app.ClientID, ClientSecret: secret.Secret, SecretID: secret.ID,
		NonceClientID: nonceApp.ClientID, NonceClientSecret: nonceApp.ClientSecret,
		Audience: appAudience, Scope: appScope, CustomerID: customerID,
		Keys: keys.private, SecureModeAlg: sm.alg, SecureModeKey: keys.private[sm.key],
	}
	j.Token = appToken(t, j)
	return j
}

// appToken gets an app token with net/http (client_secret_basic).
func appToken(t *testing.T, j job) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, j.TokenEndpoint, strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {j.Scope}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(j.ClientID), url.QueryEscape(j.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// rotate runs "keys rotate --immediate" and returns a token signed by the
// new active key.
func rotate(t *testing.T, s *server, j job) string {
	t.Helper()
	before := header(t, j.Token)["kid"]
	var res struct {
		ActiveKID string `json:"active_kid"`
	}
	s.cli(t, &res, nil, "keys", "rotate", "--immediate")
	if res.ActiveKID == "" || res.ActiveKID == before {
		t.Fatalf("keys rotate --immediate left %q active (was %q)", res.ActiveKID, before)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		tok := appToken(t, j)
		if header(t, tok)["kid"] == res.ActiveKID {
			return tok
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokens are not signed by the new key %s 30 s after the rotation", res.ActiveKID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// header and payload decode a compact JWS's parts without verifying it:
// verification is the libraries' job; the driver checks what they return.
func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	m, err := jwsPart(tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func jwsPart(tok string, i int) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		return nil, fmt.Errorf("part %d: %w", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("part %d: %w", i, err)
	}
	return m, nil
}

// judge checks each expected row of a column against what the runners
// reported and against its expectations.
func judge(alg string, j job, tokenAfter string, got []rowResult) []result {
	byKey := map[[2]string]rowResult{}
	var out []result
	for _, g := range got {
		k := [2]string{g.Library, g.Scenario}
		if _, dup := byKey[k]; dup {
			out = append(out, result{alg: alg, library: g.Library, scenario: g.Scenario, outcome: outcomeFail, why: "reported twice"})
		}
		byKey[k] = g
	}
	for _, l := range libraries {
		for _, sc := range l.scenarios {
			g, ok := byKey[[2]string{l.name, sc}]
			r := result{alg: alg, library: l.name, scenario: sc}
			var problem string
			if !ok {
				problem = "no result: the runner did not report this row"
			} else {
				problem = check(j, tokenAfter, scenarioByID(sc), g)
			}
			r.outcome, r.why = verdict(problem, expected(l.name, sc, alg))
			out = append(out, r)
		}
	}
	return out
}

// check returns what is wrong with a reported row, "" when nothing is: the
// runner's own verdict first, then the driver's checks of the token the
// row obtained or of the claims a verifier accepted.
func check(j job, tokenAfter string, sc scenario, g rowResult) string {
	if !g.OK {
		if g.Error == "" {
			return "failed without an error message"
		}
		return g.Error
	}
	if sc.credentialScope != "" {
		if g.Token == "" {
			return "passed without returning its token"
		}
		c, err := jwsPart(g.Token, 1)
		if err != nil {
			return "returned a token that is not a JWT: " + err.Error()
		}
		clientID := j.ClientID
		if sc.nonceApp {
			clientID = j.NonceClientID
		}
		if c["iss"] != j.Issuer || c["client_id"] != clientID || c["credential_scope"] != sc.credentialScope {
			return fmt.Sprintf("returned a token with iss %v, client_id %v, credential_scope %v", c["iss"], c["client_id"], c["credential_scope"])
		}
		if cnf, _ := c["cnf"].(map[string]any); sc.dpopBound && (g.JKT == "" || cnf["jkt"] != g.JKT) {
			return fmt.Sprintf("returned a token with cnf %v, want it bound to the key of jkt %q", c["cnf"], g.JKT)
		}
		if sc.credentialScope == "app" && c["scope"] != j.Scope {
			return fmt.Sprintf("returned an app token with scope %v, want %q", c["scope"], j.Scope)
		}
		if sub, _ := c["sub"].(string); sc.credentialScope == "appUser" && (sub == "" || sub == j.ClientID) {
			return fmt.Sprintf("returned an appUser token with sub %q", sub)
		}
	}
	if sc.id == scVerify || sc.id == scVerifyRotated {
		tok := j.Token
		if sc.afterRotation {
			tok = tokenAfter
		}
		want, err := jwsPart(tok, 1)
		if err != nil {
			return err.Error()
		}
		if g.Claims == nil || g.Claims["jti"] != want["jti"] || g.Claims["client_id"] != j.ClientID {
			return fmt.Sprintf("accepted claims %v, not those of the token it was given", g.Claims)
		}
	}
	return ""
}

// verdict decides a row's outcome from its problem ("" when it passed)
// and its expectations.
func verdict(problem string, exp []expectation) (outcome, why string) {
	switch {
	case problem == "" && len(exp) == 0:
		return outcomePass, ""
	case problem == "":
		return outcomeFail, "passes, but is marked as an expected failure (" + exp[0].reason + "): remove the mark"
	case len(exp) == 0:
		return outcomeFail, problem
	}
	for _, e := range exp {
		if strings.Contains(problem, e.match) {
			return outcomeXFail, e.reason
		}
	}
	return outcomeFail, "fails otherwise than its expected failure (" + exp[0].reason + "): " + problem
}
