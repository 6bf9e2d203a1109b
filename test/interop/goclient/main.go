// Command goclient runs the Go libraries' rows of the interop suite
// (golang.org/x/oauth2, go-oidc, keyfunc with golang-jwt, jwx) against a
// running authserver. It speaks the suite's line protocol: a job as the
// first JSON line of stdin, one JSON line per row result on stdout, then
// {"done":"before"}; then {"phase":"after","token":...} for the rows that
// follow a key rotation, answered by {"done":"after"}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// job is the driver's first line (test/interop/runner_test.go).
type job struct {
	ServerAlg                    string                     `json:"server_alg"`
	Issuer                       string                     `json:"issuer"`
	TokenEndpoint                string                     `json:"token_endpoint"`
	CustomerAuthenticateEndpoint string                     `json:"customer_authenticate_endpoint"`
	JWKSURI                      string                     `json:"jwks_uri"`
	ClientID                     string                     `json:"client_id"`
	ClientSecret                 string                     `json:"client_secret"`
	Audience                     string                     `json:"audience"`
	Scope                        string                     `json:"scope"`
	CustomerID                   string                     `json:"customer_id"`
	Keys                         map[string]json.RawMessage `json:"keys"`
	SecureModeAlg                string                     `json:"secure_mode_alg"`
	SecureModeKey                json.RawMessage            `json:"secure_mode_key"`
	Token                        string                     `json:"token"`
	Rows                         []row                      `json:"rows"`
}

type row struct {
	Library      string `json:"library"`
	Scenario     string `json:"scenario"`
	RetrySeconds int    `json:"retry_seconds"`
}

// result is one row's line.
type result struct {
	Library  string         `json:"library"`
	Scenario string         `json:"scenario"`
	OK       bool           `json:"ok"`
	Error    string         `json:"error,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	Token    string         `json:"token,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
}

// outcome is what a row's function returns when it succeeds.
type outcome struct {
	token  string
	claims map[string]any
	detail string
}

// verifier is a library's verifier, set up by the verify row and used
// again, unchanged, by verify-rotated.
type verifier interface {
	verify(ctx context.Context, token string) (map[string]any, error)
}

// client runs rows; verifiers are kept between the phases.
type client struct {
	job       job
	out       *json.Encoder
	outMu     sync.Mutex
	verifiers sync.Map // library -> verifier
}

// rowTimeout bounds one row (retries of verify-rotated come on top).
const rowTimeout = 30 * time.Second

// modules maps each library to the module whose version the matrix shows.
var modules = map[string][]string{
	"golang.org/x/oauth2":  {"golang.org/x/oauth2"},
	"go-oidc":              {"github.com/coreos/go-oidc/v3"},
	"keyfunc + golang-jwt": {"github.com/MicahParks/keyfunc/v3", "github.com/golang-jwt/jwt/v5"},
	"jwx":                  {"github.com/lestrrat-go/jwx/v3"},
}

func versions() map[string]string {
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			deps[d.Path] = d.Version
		}
	}
	out := map[string]string{}
	for lib, mods := range modules {
		v := ""
		for i, m := range mods {
			if i > 0 {
				v += " + "
			}
			v += deps[m]
		}
		out[lib] = v
	}
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	if !in.Scan() {
		fmt.Fprintln(os.Stderr, "no job on stdin")
		os.Exit(2)
	}
	c := &client{out: json.NewEncoder(os.Stdout)}
	if err := json.Unmarshal(in.Bytes(), &c.job); err != nil {
		fmt.Fprintln(os.Stderr, "job:", err)
		os.Exit(2)
	}
	c.emit(map[string]any{"runtime": runtime.Version(), "versions": versions()})
	var before, after []row
	for _, r := range c.job.Rows {
		if r.Scenario == "verify-rotated" {
			after = append(after, r)
		} else {
			before = append(before, r)
		}
	}
	c.runAll(before, c.job.Token)
	c.emit(map[string]string{"done": "before"})
	if !in.Scan() {
		return
	}
	var next struct {
		Phase string `json:"phase"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(in.Bytes(), &next); err != nil || next.Phase != "after" {
		fmt.Fprintln(os.Stderr, "want the after phase, got:", in.Text())
		os.Exit(2)
	}
	c.runAll(after, next.Token)
	c.emit(map[string]string{"done": "after"})
	for in.Scan() {
	}
}

func (c *client) emit(v any) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	_ = c.out.Encode(v)
}

// runAll runs rows at once, each reporting as it ends.
func (c *client) runAll(rows []row, token string) {
	var wg sync.WaitGroup
	for _, r := range rows {
		wg.Go(func() {
			o, err := c.run(r, token)
			res := result{Library: r.Library, Scenario: r.Scenario, OK: err == nil, Token: o.token, Claims: o.claims, Detail: o.detail}
			if err != nil {
				res.Error = err.Error()
			}
			c.emit(res)
		})
	}
	wg.Wait()
}

// run runs one row. verify-rotated retries for the row's retry_seconds.
func (c *client) run(r row, token string) (o outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	switch r.Scenario {
	case "verify", "verify-rotated":
		ctx, cancel := context.WithTimeout(context.Background(), rowTimeout+time.Duration(r.RetrySeconds)*time.Second)
		defer cancel()
		return c.verifyRow(ctx, r, token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
	defer cancel()
	f, ok := rowFuncs[[2]string{r.Library, r.Scenario}]
	if !ok {
		return outcome{}, fmt.Errorf("goclient has no row %s %s", r.Library, r.Scenario)
	}
	return f(ctx, c.job)
}

// rowFuncs are the rows other than verification.
var rowFuncs = map[[2]string]func(context.Context, job) (outcome, error){
	{"golang.org/x/oauth2", "cc-basic"}:    oauth2Basic,
	{"golang.org/x/oauth2", "cc-post"}:     oauth2Post,
	{"golang.org/x/oauth2", "secure-mode"}: oauth2SecureMode,
	{"go-oidc", "discovery-oidc"}:          oidcDiscovery,
	{"jwx", "secure-mode"}:                 jwxSecureMode,
}

// newVerifiers make each library's verifier.
var newVerifiers = map[string]func(context.Context, job) (verifier, error){
	"go-oidc":              newOIDCVerifier,
	"keyfunc + golang-jwt": newKeyfuncVerifier,
	"jwx":                  newJWXVerifier,
}

func (c *client) verifyRow(ctx context.Context, r row, token string) (outcome, error) {
	var v verifier
	if r.Scenario == "verify" {
		mk, ok := newVerifiers[r.Library]
		if !ok {
			return outcome{}, fmt.Errorf("goclient has no verifier %s", r.Library)
		}
		var err error
		if v, err = mk(context.Background(), c.job); err != nil {
			return outcome{}, fmt.Errorf("set up: %w", err)
		}
		c.verifiers.Store(r.Library, v)
	} else {
		got, ok := c.verifiers.Load(r.Library)
		if !ok {
			return outcome{}, errors.New("the verify row set up no verifier")
		}
		v = got.(verifier)
	}
	start := time.Now()
	deadline := start.Add(time.Duration(r.RetrySeconds) * time.Second)
	for {
		claims, err := v.verify(ctx, token)
		if err == nil {
			o := outcome{claims: claims}
			if r.RetrySeconds > 0 {
				o.detail = fmt.Sprintf("accepted after %.0f s", time.Since(start).Seconds())
			}
			return o, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return outcome{}, err
		}
		time.Sleep(time.Second)
	}
}
