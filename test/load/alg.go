package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// algReport is every figure of one signing algorithm.
type algReport struct {
	alg      string
	keyBits  int
	startup  time.Duration
	refs     rates
	hToken   outcome
	hJWKS    outcome
	tokenLen int
	jwksLen  int
	closed   outcome
	open     outcome
	openRate int
	jwks200  outcome
	jwks304  outcome
	intro    outcome
	conns    int
	introErr error
	profile  string
	dpop     *dpopReport
}

// floor is F = 1/(1/H + 1/S): the time of the HTTP floor and of the
// signature added up.
func floor(h, s float64) float64 {
	if h <= 0 || s <= 0 {
		return 0
	}
	return 1 / (1/h + 1/s)
}

// runAlg measures one signing algorithm on a server of its own.
func runAlg(ctx context.Context, cfg config, alg string) (algReport, error) {
	rep := algReport{alg: alg, conns: cfg.conns}
	if alg == "RS256" {
		rep.keyBits = cfg.rsaBits
	}
	dir, err := cfg.dataDir(alg)
	if err != nil {
		return rep, err
	}
	fmt.Fprintf(os.Stderr, "%s: starting authserver on %s\n", alg, dir)
	extra := []string{"--tokens-rsa-bits", fmt.Sprint(cfg.rsaBits)}
	if cfg.dpopReplay != "" {
		extra = append(extra, "--dpop-replay", cfg.dpopReplay)
	}
	srv, err := startServer(ctx, serverOptions{
		bin: cfg.bin, dataDir: dir, alg: alg, logLevel: cfg.logLevel, gogc: cfg.gogc, pprof: cfg.profileDir != "",
		extra: extra,
	})
	if err != nil {
		return rep, err
	}
	defer srv.stop()
	rep.startup = srv.startup
	app, err := srv.createApp(ctx, "load-"+alg)
	if err != nil {
		return rep, err
	}
	tokenURL := srv.publicURL + "/oauth2/token"
	jwksURL := srv.publicURL + "/.well-known/jwks.json"
	tokenBody, token, err := fetchToken(ctx, tokenURL, app)
	if err != nil {
		return rep, err
	}
	jwksBody, etag, err := fetchJWKS(ctx, jwksURL)
	if err != nil {
		return rep, err
	}
	rep.tokenLen, rep.jwksLen = len(tokenBody), len(jwksBody)
	if _, err := verifyToken(token, jwksBody); err != nil {
		return rep, fmt.Errorf("the first token does not verify against the JWKS: %w", err)
	}
	tokenTgt := []vegeta.Target{tokenTarget(tokenURL, app)}
	jwksTgt := []vegeta.Target{{Method: http.MethodGet, URL: jwksURL}}
	jwks304Tgt := []vegeta.Target{{Method: http.MethodGet, URL: jwksURL, Header: http.Header{"If-None-Match": {etag}}}}

	if cfg.phases["refs"] {
		// References, with the server idle.
		fmt.Fprintf(os.Stderr, "%s: S, go-jose and V in-process (%s each)\n", alg, cfg.signFor)
		if rep.refs, err = measureRates(alg, cfg.rsaBits, token, cfg.signFor); err != nil {
			return rep, err
		}
		fmt.Fprintf(os.Stderr, "%s: H, the trivial handler\n", alg)
		triv, err := startTrivial(ctx, len(tokenBody), len(jwksBody), cfg.gogc)
		if err != nil {
			return rep, err
		}
		hTok := tokenTarget(triv.url+"/oauth2/token", app)
		rep.hToken = run(load{name: "H token", conns: cfg.conns, duration: cfg.duration,
			targets: roundRobin([]vegeta.Target{hTok}, 0), pid: triv.pid(), check: sizeIs(len(tokenBody)), wrk: cfg.wrk})
		rep.hJWKS = run(load{name: "H jwks", conns: cfg.conns, duration: cfg.duration,
			targets: roundRobin([]vegeta.Target{{Method: http.MethodGet, URL: triv.url + "/.well-known/jwks.json"}}, 0),
			pid:     triv.pid(), check: sizeIs(len(jwksBody)), wrk: cfg.wrk})
		triv.stop()
	}

	if cfg.phases["token"] || cfg.phases["open"] {
		fmt.Fprintf(os.Stderr, "%s: token endpoint, closed loop, %d connections\n", alg, cfg.conns)
		if cfg.warmup > 0 {
			run(load{name: "warm-up", conns: cfg.conns, duration: cfg.warmup, targets: roundRobin(tokenTgt, 0), wrk: cfg.wrk})
		}
		profileDone := make(chan error, 1)
		if cfg.profileDir != "" {
			rep.profile = filepath.Join(cfg.profileDir, alg+".cpu.pprof")
			go func() { profileDone <- srv.profile(ctx, cfg.duration-time.Second, rep.profile) }()
		}
		rep.closed = run(load{name: "token", conns: cfg.conns, duration: cfg.duration,
			targets: roundRobin(tokenTgt, 0), pid: srv.pid(), check: isToken, wrk: cfg.wrk})
		if cfg.profileDir != "" {
			if err := <-profileDone; err != nil {
				return rep, err
			}
		}
		if rep.closed.sample != nil {
			var tr struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(rep.closed.sample, &tr); err != nil {
				return rep, fmt.Errorf("token response under load: %w", err)
			}
			if _, err := verifyToken(tr.AccessToken, jwksBody); err != nil {
				return rep, fmt.Errorf("a token issued under load does not verify: %w", err)
			}
		}
	}
	if cfg.phases["open"] {
		rep.openRate = cfg.rate
		if rep.openRate == 0 {
			rep.openRate = max(int(rep.closed.perSecond/2), 1)
		}
		fmt.Fprintf(os.Stderr, "%s: token endpoint, open loop, %d/s\n", alg, rep.openRate)
		rep.open = run(load{name: "token open", conns: cfg.conns, rate: rep.openRate, duration: cfg.duration,
			targets: roundRobin(tokenTgt, 0), pid: srv.pid(), check: isToken})
	}
	if cfg.phases["jwks"] {
		fmt.Fprintf(os.Stderr, "%s: JWKS\n", alg)
		rep.jwks200 = run(load{name: "jwks 200", conns: cfg.conns, duration: cfg.duration,
			targets: roundRobin(jwksTgt, 0), pid: srv.pid(), check: statusAndSize(http.StatusOK, len(jwksBody)), wrk: cfg.wrk})
		rep.jwks304 = run(load{name: "jwks 304", conns: cfg.conns, duration: cfg.duration,
			targets: roundRobin(jwks304Tgt, 0), pid: srv.pid(), check: statusAndSize(http.StatusNotModified, 0), wrk: cfg.wrk})
	}
	if cfg.phases["introspect"] {
		rep.intro, rep.introErr = runIntrospection(ctx, cfg, srv, app, token)
	}
	if cfg.phases["dpop"] {
		d := runDPoP(ctx, cfg, srv, app, func(tok string) ([]byte, error) { return verifyToken(tok, jwksBody) })
		rep.dpop = &d
	}
	if rep.profile != "" {
		top, err := pprofTop(cfg.bin, rep.profile, cfg.profileTop)
		if err != nil {
			return rep, err
		}
		rep.profile = rep.profile + "\n" + top
	}
	return rep, nil
}

// runIntrospection is the hook for RFC 7662: it runs when the server's
// metadata (RFC 8414) advertises an introspection_endpoint, with a closed
// loop of requests introspecting a valid JWT, authenticated as the client
// that obtained it.
func runIntrospection(ctx context.Context, cfg config, srv *serverProc, app client, token string) (outcome, error) {
	md, err := srv.metadata(ctx)
	if err != nil {
		return outcome{}, err
	}
	endpoint, _ := md["introspection_endpoint"].(string)
	if endpoint == "" {
		return outcome{}, fmt.Errorf("%w: the server advertises no introspection_endpoint", errSkipped)
	}
	// The issuer names the public listener, so the advertised URL is
	// reachable as is.
	t := tokenTarget(endpoint, app)
	t.Body = []byte(url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode())
	fmt.Fprintf(os.Stderr, "introspection at %s\n", endpoint)
	profileDone := make(chan error, 1)
	if cfg.profileDir != "" {
		path := filepath.Join(cfg.profileDir, srv.alg+".introspect.cpu.pprof")
		go func() { profileDone <- srv.profile(ctx, cfg.duration-time.Second, path) }()
	}
	o := run(load{name: "introspect", conns: cfg.conns, duration: cfg.duration,
		targets: roundRobin([]vegeta.Target{t}, 0), pid: srv.pid(), check: isActive, wrk: cfg.wrk})
	if cfg.profileDir != "" {
		if err := <-profileDone; err != nil {
			return o, err
		}
	}
	return o, nil
}

// fetchToken gets one token and returns the whole response body and the
// access token.
func fetchToken(ctx context.Context, tokenURL string, c client) ([]byte, string, error) {
	t := tokenTarget(tokenURL, c)
	req, err := t.Request()
	if err != nil {
		return nil, "", err
	}
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("token request: status %d: %s", resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, "", fmt.Errorf("token response %q", body)
	}
	return body, tr.AccessToken, nil
}

// fetchJWKS returns the JWKS and its ETag.
func fetchJWKS(ctx context.Context, jwksURL string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		return nil, "", fmt.Errorf("jwks: status %d, etag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	return body, resp.Header.Get("ETag"), nil
}

// verifyToken checks a token's signature against the JWKS with go-jose,
// as a resource server would, and returns its payload.
func verifyToken(token string, jwks []byte) ([]byte, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return nil, err
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return nil, fmt.Errorf("kid %q not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	return jws.Verify(keys[0].Key)
}

var (
	tokenMarker  = []byte(`"access_token":"`)
	activeMarker = []byte(`"active":true`)
)

func isToken(r *vegeta.Result) error {
	if r.Code != http.StatusOK || !bytes.Contains(r.Body, tokenMarker) {
		return fmt.Errorf("status %d without an access_token", r.Code)
	}
	return nil
}

func isActive(r *vegeta.Result) error {
	if r.Code != http.StatusOK || !bytes.Contains(r.Body, activeMarker) {
		return fmt.Errorf("status %d, not active", r.Code)
	}
	return nil
}

func sizeIs(n int) func(*vegeta.Result) error {
	return statusAndSize(http.StatusOK, n)
}

func statusAndSize(status, n int) func(*vegeta.Result) error {
	return func(r *vegeta.Result) error {
		if int(r.Code) != status || len(r.Body) != n {
			return fmt.Errorf("status %d with %d bytes, want %d with %d", r.Code, len(r.Body), status, n)
		}
		return nil
	}
}

// pprofTop renders the top of a profile (CPU, or heap in-use bytes) with `go tool pprof`.
func pprofTop(bin, profile string, n int) (string, error) {
	out, err := exec.Command("go", "tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", n), bin, profile).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, out)
	}
	return string(out), nil
}

// print writes the algorithm's section of the report.
func (r algReport) print(w io.Writer) {
	name := r.alg
	if r.keyBits > 0 {
		name = fmt.Sprintf("%s (%d-bit)", r.alg, r.keyBits)
	}
	cores := runtime.GOMAXPROCS(0)
	s, hTok, hJWKS := r.refs.sign, pair(r.hToken, cores), pair(r.hJWKS, cores)
	f := rate{wall: floor(hTok.wall, s.wall), alone: floor(hTok.alone, s.alone)}
	fmt.Fprintf(w, "\n== %s: token response %d B, JWKS %d B; server start-up %s (empty store, first key generated)\n",
		name, r.tokenLen, r.jwksLen, r.startup.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-26s %10s %10s\n", "", "measured", "alone*")
	if s.wall > 0 {
		fmt.Fprintf(w, "  %-26s %10s %10s   %s CPU/signature; go-jose Sign+serialize %s = %.2f S\n", "S  raw signing", perSec(s.wall), perSec(s.alone),
			us(time.Duration(float64(cores)/s.alone*1e9)), perSec(r.refs.jose.alone), r.refs.jose.alone/s.alone)
		fmt.Fprintf(w, "  %-26s %10s %10s\n", "V  raw verification", perSec(r.refs.verify.wall), perSec(r.refs.verify.alone))
		fmt.Fprintf(w, "  %-26s %10s %10s   its server %s + generator %s CPU/request; errors %d\n", "H  trivial token POST", perSec(hTok.wall), perSec(hTok.alone),
			us(r.hToken.cpuPerRequest()), us(r.hToken.loadPerRequest()), r.hToken.errorCount())
		fmt.Fprintf(w, "  %-26s %10s %10s   its server %s + generator %s CPU/request; errors %d\n", "H' trivial JWKS GET", perSec(hJWKS.wall), perSec(hJWKS.alone),
			us(r.hJWKS.cpuPerRequest()), us(r.hJWKS.loadPerRequest()), r.hJWKS.errorCount())
		fmt.Fprintf(w, "  %-26s %10s %10s\n", "F  = 1/(1/H + 1/S)", perSec(f.wall), perSec(f.alone))
	}
	if r.closed.requests > 0 {
		line(w, fmt.Sprintf("token, closed, %d conns", r.conns), r.closed, cores, ratios(pair(r.closed, cores), s, "S", f, "F"))
	}
	if r.open.requests > 0 {
		line(w, fmt.Sprintf("token, open at %d/s", r.openRate), r.open, cores, "")
	}
	if r.jwks200.requests > 0 {
		line(w, "JWKS 200", r.jwks200, cores, ratios(pair(r.jwks200, cores), hJWKS, "H'", rate{}, ""))
		line(w, "JWKS 304", r.jwks304, cores, ratios(pair(r.jwks304, cores), hJWKS, "H'", pair(r.jwks200, cores), "200"))
	}
	switch {
	case r.introErr != nil && errors.Is(r.introErr, errSkipped):
		fmt.Fprintf(w, "  introspection: %v\n", r.introErr)
	case r.introErr != nil:
		fmt.Fprintf(w, "  introspection: error: %v\n", r.introErr)
	case r.intro.requests > 0:
		v := r.refs.verify
		fv := rate{wall: floor(hTok.wall, v.wall), alone: floor(hTok.alone, v.alone)}
		line(w, "introspection", r.intro, cores, ratios(pair(r.intro, cores), fv, "1/(1/H+1/V)", rate{}, ""))
	}
	if r.dpop != nil {
		r.dpop.print(w)
	}
	fmt.Fprintf(w, "  * alone: cores / CPU time per operation (server + load generator), the rate if nothing else ran on this machine\n")
	if r.profile != "" {
		fmt.Fprintf(w, "  server CPU profile during the closed-loop run: %s\n", indent(r.profile))
	}
}

// pair is a run's measured and alone rates.
func pair(o outcome, cores int) rate { return rate{wall: o.perSecond, alone: o.alone(cores)} }

func ratios(x, a rate, aName string, b rate, bName string) string {
	out := ""
	for _, ref := range []struct {
		r    rate
		name string
	}{{a, aName}, {b, bName}} {
		if ref.name == "" || ref.r.wall <= 0 {
			continue
		}
		out += fmt.Sprintf("  = %.2f %s", x.wall/ref.r.wall, ref.name)
		if ref.r.alone > 0 && x.alone > 0 {
			out += fmt.Sprintf(" (alone %.2f)", x.alone/ref.r.alone)
		}
	}
	return out
}

func line(w io.Writer, name string, o outcome, cores int, ratios string) {
	fmt.Fprintf(w, "  %-26s %10s %10s %s\n", name, perSec(o.perSecond), perSec(o.alone(cores)), ratios)
	fmt.Fprintf(w, "  %-26s latency p50 %s p99 %s p99.9 %s max %s; errors %d/%d%s\n", "", ms(o.p50), ms(o.p99), ms(o.p999), ms(o.max),
		o.errorCount(), o.requests, errorSummary(o))
	if o.serverCPU > 0 {
		rss := "?"
		if o.peakRSS > 0 {
			rss = fmt.Sprintf("%.0f MB", float64(o.peakRSS)/(1<<20))
			if !o.rssReset {
				rss += " (since start)"
			}
		}
		fmt.Fprintf(w, "  %-26s server %s CPU/request (%.2f cores), generator %s, other processes %.2f cores; server peak RSS %s\n", "",
			us(o.cpuPerRequest()), o.cores(o.serverCPU), us(o.loadPerRequest()), o.cores(o.otherCPU), rss)
	}
}

func perSec(x float64) string {
	if x <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/s", x)
}

func errorSummary(o outcome) string {
	if len(o.errors) == 0 {
		return ""
	}
	var parts []string
	for e, n := range o.errors {
		parts = append(parts, fmt.Sprintf("%dx %s", n, e))
		if len(parts) == 3 {
			break
		}
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
