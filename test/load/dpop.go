package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authserver/authserver/verifier/dpop"
)

// The DPoP phase measures what a DPoP proof (RFC 9449 §4) costs the token
// endpoint: the same client credentials requests with a fresh proof each
// and without, in closed loops driven by the same generator, per proof
// algorithm, beside the raw signing and verification rates of that
// algorithm on this machine.
//
// Proofs are made before each run, not by the generator during it: the
// server refuses a second use of a proof (§11.1), so every request needs
// its own signature, and signing RSA proofs in the load generator would
// take the cores the server is measured on (a 2048-bit RSA signature
// costs about 1.2 ms of CPU, more than the server's whole token request).
// A proof's iat may be up to the server's window (60 s) ahead of its
// clock, so proofs are made with iat = the start of their making +
// proofLead, which keeps them valid for proofLead + 60 s: the making and
// the run must fit in that (-dpop-make-budget + -d <= 100 s). A run ends
// early when its proofs run out, and its rate is over the time it ran.

// dpopAlgs are the proof algorithms measured by default.
var dpopAlgs = []string{"ES256", "EdDSA", "RS256", "PS256"}

// proofLead is how far ahead of the moment they are made proofs are dated.
const proofLead = 50 * time.Second

// dpopReport is the DPoP phase of one server.
type dpopReport struct {
	skipped  error
	conns    int
	replay   string // the server's dpop.replay, "" for its default
	baseline outcome
	runs     []dpopRun
}

// dpopRun is one proof algorithm's run.
type dpopRun struct {
	alg    string
	proofs int           // made before the run
	making time.Duration // to make them, on every core
	// sign and verify are the algorithm's raw rates in this process.
	sign, verify rate
	o            outcome
	err          error
}

// proofKey returns a new client key for a proof algorithm.
func proofKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA", "Ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case "RS256", "PS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unknown proof algorithm %q", alg)
}

// proofPrimitives are the raw signature and verification of a proof
// algorithm: what dpop.NewProof and the server's check cannot skip.
func proofPrimitives(alg string, key crypto.Signer) (sign func([]byte) []byte, verify func([]byte, []byte) bool) {
	if alg != "PS256" {
		return primitives(alg, key)
	}
	k := key.(*rsa.PrivateKey)
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	return func(in []byte) []byte {
			h := sha256.Sum256(in)
			sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], opts)
			if err != nil {
				panic(err)
			}
			return sig
		}, func(in, sig []byte) bool {
			h := sha256.Sum256(in)
			return rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, h[:], sig, opts) == nil
		}
}

// makeProofTargets makes up to n token requests to tokenURL for c, each
// with a proof of its own signed by key, on every core, for at most
// budget, but at least one. Every proof is dated at start + proofLead.
func makeProofTargets(tokenURL string, c client, key crypto.Signer, alg string, n int, budget time.Duration) ([]vegeta.Target, error) {
	start := time.Now()
	iat := start.Add(proofLead)
	base := tokenTarget(tokenURL, c)
	targets := make([]vegeta.Target, n)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	deadline := start.Add(budget)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// At least one proof, however short the budget or busy
				// the machine: a phase with no target cannot run.
				if next.Load() > 0 && !time.Now().Before(deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				proof, err := dpop.NewProof(key, dpop.ProofParams{Method: http.MethodPost, URI: tokenURL, Algorithm: alg, Now: iat})
				if err != nil {
					failed.Store(&err)
					return
				}
				t := base
				t.Header = base.Header.Clone()
				t.Header.Set("DPoP", proof)
				targets[i] = t
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	// Every index taken was filled, and indices are taken in order: the
	// filled targets are a prefix.
	out := targets[:0]
	for _, t := range targets {
		if t.Header == nil {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

// isDPoPToken accepts a token response of token_type DPoP (RFC 9449 §5).
func isDPoPToken(r *vegeta.Result) error {
	if err := isToken(r); err != nil {
		return err
	}
	if !bytes.Contains(bytes.ToLower(r.Body), []byte(`"token_type":"dpop"`)) {
		return errors.New("token_type is not DPoP")
	}
	return nil
}

// checkBinding sends one token request with a fresh proof of key and
// checks that the server bound the token: token_type DPoP and cnf.jkt the
// key's thumbprint (RFC 9449 §6.1) in the claims payloadOf returns.
func checkBinding(ctx context.Context, tokenURL string, c client, key crypto.Signer, alg string, payloadOf func(string) ([]byte, error)) error {
	proof, err := dpop.NewProof(key, dpop.ProofParams{Method: http.MethodPost, URI: tokenURL, Algorithm: alg})
	if err != nil {
		return err
	}
	t := tokenTarget(tokenURL, c)
	req, err := t.Request()
	if err != nil {
		return err
	}
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return fmt.Errorf("status %d, body not JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d %s", resp.StatusCode, tr.Error)
	}
	if !strings.EqualFold(tr.TokenType, "DPoP") {
		return fmt.Errorf("%w: the server answered token_type %q to a request with a valid %s proof", errSkipped, tr.TokenType, alg)
	}
	payload, err := payloadOf(tr.AccessToken)
	if err != nil {
		return fmt.Errorf("the bound token: %w", err)
	}
	var claims struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	jkt, _ := dpop.Thumbprint(key.Public())
	if json.Unmarshal(payload, &claims) != nil || claims.Cnf.JKT != jkt {
		return fmt.Errorf("the token's cnf.jkt %q is not the proof key's %s", claims.Cnf.JKT, jkt)
	}
	return nil
}

// runDPoP is the DPoP phase: it runs when the server's metadata (RFC 8414)
// advertises dpop_signing_alg_values_supported (RFC 9449 §5.1), for each
// of cfg.dpopAlgs the server supports. payloadOf verifies an issued token
// and returns its claims.
func runDPoP(ctx context.Context, cfg config, srv *serverProc, app client, payloadOf func(string) ([]byte, error)) dpopReport {
	rep := dpopReport{conns: cfg.conns, replay: cfg.dpopReplay}
	md, err := srv.metadata(ctx)
	if err != nil {
		rep.skipped = err
		return rep
	}
	var supported []string
	if list, ok := md["dpop_signing_alg_values_supported"].([]any); ok {
		for _, a := range list {
			if s, ok := a.(string); ok {
				supported = append(supported, s)
			}
		}
	}
	if len(supported) == 0 {
		rep.skipped = fmt.Errorf("%w: the server advertises no dpop_signing_alg_values_supported", errSkipped)
		return rep
	}
	tokenURL := srv.publicURL + "/oauth2/token"
	// The reference: the same requests without a proof, through the same
	// generator (vegeta, whatever -generator says: wrk cannot sign).
	fmt.Fprintf(os.Stderr, "%s: DPoP: token endpoint without proofs, closed loop (vegeta)\n", srv.alg)
	rep.baseline = run(load{name: "token, no DPoP", conns: cfg.conns, duration: cfg.duration,
		targets: roundRobin([]vegeta.Target{tokenTarget(tokenURL, app)}, 0), pid: srv.pid(), check: isToken})
	for _, alg := range cfg.dpopAlgs {
		if ctx.Err() != nil {
			break
		}
		r := dpopRun{alg: alg}
		rep.runs = append(rep.runs, r)
		rr := &rep.runs[len(rep.runs)-1]
		if !slices.Contains(supported, alg) {
			rr.err = fmt.Errorf("%w: not in the server's dpop_signing_alg_values_supported %v", errSkipped, supported)
			continue
		}
		key, err := proofKey(alg)
		if err != nil {
			rr.err = err
			continue
		}
		if err := checkBinding(ctx, tokenURL, app, key, alg, payloadOf); err != nil {
			rr.err = err
			continue
		}
		sample, err := dpop.NewProof(key, dpop.ProofParams{Method: http.MethodPost, URI: tokenURL, Algorithm: alg})
		if err != nil {
			rr.err = err
			continue
		}
		input := []byte(sample[:strings.LastIndexByte(sample, '.')])
		sign, verify := proofPrimitives(alg, key)
		sig := sign(input)
		rr.sign = parallelRate(cfg.signFor, func() { sign(input) })
		rr.verify = parallelRate(cfg.signFor, func() {
			if !verify(input, sig) {
				panic("verification failed")
			}
		})
		// Enough proofs for the run at the rate without DPoP, and a
		// margin; fewer if making them takes longer than the budget.
		n := int(math.Ceil(rep.baseline.perSecond*cfg.duration.Seconds()*1.25)) + cfg.conns
		fmt.Fprintf(os.Stderr, "%s: DPoP %s: making up to %d proofs (at most %s)\n", srv.alg, alg, n, cfg.dpopMakeBudget)
		start := time.Now()
		targets, err := makeProofTargets(tokenURL, app, key, alg, n, cfg.dpopMakeBudget)
		rr.making, rr.proofs = time.Since(start), len(targets)
		if err != nil {
			rr.err = err
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: DPoP %s: token endpoint with proofs, closed loop (vegeta)\n", srv.alg, alg)
		rr.o = run(load{name: "token, DPoP " + alg, conns: cfg.conns, duration: cfg.duration,
			targets: roundRobin(targets, len(targets)), pid: srv.pid(), check: isDPoPToken})
		if rr.o.sample != nil {
			var tr struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(rr.o.sample, &tr); err != nil {
				rr.err = fmt.Errorf("token response under load: %w", err)
			} else if _, err := payloadOf(tr.AccessToken); err != nil {
				rr.err = fmt.Errorf("a token issued under load does not verify: %w", err)
			}
		}
	}
	return rep
}

// print writes the DPoP section of the report.
func (r dpopReport) print(w io.Writer) {
	replay := r.replay
	if replay == "" {
		replay = "the server's default"
	}
	fmt.Fprintf(w, "  DPoP (RFC 9449): token endpoint with a fresh proof per request against without, closed loop, vegeta, %d conns; dpop.replay %s\n", r.conns, replay)
	if r.skipped != nil {
		fmt.Fprintf(w, "    %v\n", r.skipped)
		return
	}
	cores := runtime.GOMAXPROCS(0)
	base := pair(r.baseline, cores)
	line(w, "without DPoP", r.baseline, cores, "")
	for _, run := range r.runs {
		if run.err != nil && run.o.requests == 0 {
			fmt.Fprintf(w, "  %-26s %v\n", "with "+run.alg+" proofs", run.err)
			continue
		}
		with := pair(run.o, cores)
		line(w, "with "+run.alg+" proofs", run.o, cores, ratios(with, base, "without", rate{}, ""))
		extra := run.o.cpuPerRequest() - r.baseline.cpuPerRequest()
		perVerify := time.Duration(0)
		if run.verify.alone > 0 {
			perVerify = time.Duration(float64(cores) / run.verify.alone * 1e9)
		}
		fmt.Fprintf(w, "  %-26s server CPU/token %+.0fµs against without (one raw %s verification: %s); %s raw: sign %s (alone %s), verify %s (alone %s)\n", "",
			float64(extra)/float64(time.Microsecond), run.alg, us(perVerify), run.alg,
			perSec(run.sign.wall), perSec(run.sign.alone), perSec(run.verify.wall), perSec(run.verify.alone))
		note := ""
		if run.o.requests >= run.proofs {
			note = ", all used: the run ended when they ran out"
		}
		fmt.Fprintf(w, "  %-26s %d proofs made in %s before the run%s\n", "", run.proofs, run.making.Round(time.Millisecond), note)
		if run.err != nil {
			fmt.Fprintf(w, "  %-26s error: %v\n", "", run.err)
		}
	}
}
