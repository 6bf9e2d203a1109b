package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// job is what a runner is told on its first stdin line: the server, the
// app and its keys, and which rows to run. Field names are the runners'.
type job struct {
	ServerAlg                    string `json:"server_alg"`
	Issuer                       string `json:"issuer"`
	TokenEndpoint                string `json:"token_endpoint"`
	IntrospectionEndpoint        string `json:"introspection_endpoint"`
	RevocationEndpoint           string `json:"revocation_endpoint"`
	CustomerAuthenticateEndpoint string `json:"customer_authenticate_endpoint"`
	GetProfileEndpoint           string `json:"getprofile_endpoint"`
	JWKSURI                      string `json:"jwks_uri"`
	ClientID                     string `json:"client_id"`
	// ClientSecret was created after the app opted into secret signing,
	// so it also signs client_secret_jwt assertions.
	ClientSecret string `json:"client_secret"`
	SecretID     string `json:"secret_id"`
	// NonceClientID and NonceClientSecret are a second app's, one that
	// requires DPoP nonces (dpop_nonce_required).
	NonceClientID     string `json:"nonce_client_id"`
	NonceClientSecret string `json:"nonce_client_secret"`
	Audience          string `json:"audience"`
	Scope             string `json:"scope"`
	CustomerID        string `json:"customer_id"`
	// Keys are the app's registered assertion keys as private JWKs (kid
	// set, no alg), by the private_key_jwt scenario's algorithm: RS256,
	// ES256, Ed25519.
	Keys map[string]json.RawMessage `json:"keys"`
	// SecureModeAlg and SecureModeKey sign the secure-mode user assertion:
	// the algorithm of the server's column, so that each column also
	// covers one assertion algorithm.
	SecureModeAlg string          `json:"secure_mode_alg"`
	SecureModeKey json.RawMessage `json:"secure_mode_key"`
	// Token is an app access token for the verify rows, signed by the key
	// that is active before the rotation.
	Token string   `json:"token"`
	Rows  []jobRow `json:"rows"`
}

type jobRow struct {
	Library      string `json:"library"`
	Scenario     string `json:"scenario"`
	RetrySeconds int    `json:"retry_seconds,omitempty"`
}

// afterRotation is the second stdin line: run the verify-rotated rows with
// the verifiers set up before, on Token.
type afterRotation struct {
	Phase string `json:"phase"`
	Token string `json:"token"`
}

// runnerLine is one stdout line of a runner: its versions (first), a row
// result, or the end of a phase.
type runnerLine struct {
	Runtime  string            `json:"runtime,omitempty"`
	Versions map[string]string `json:"versions,omitempty"`
	Done     string            `json:"done,omitempty"`
	rowResult
}

// rowResult is what a runner reports for one row. Token is the token the
// row obtained, for the driver's own claim checks; Claims are the claims
// a verifier accepted.
type rowResult struct {
	Library  string         `json:"library,omitempty"`
	Scenario string         `json:"scenario,omitempty"`
	OK       bool           `json:"ok"`
	Error    string         `json:"error,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	Token    string         `json:"token,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	// JKT is the RFC 7638 thumbprint of the DPoP key a dpopBound row's
	// token must be bound to, computed apart from the library.
	JKT string `json:"jkt,omitempty"`
}

// runner is a running client program (node/run.mjs, python/run.py, the
// goclient binary) that speaks the line protocol above.
type runner struct {
	name     string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan runnerLine
	garbage  *syncBuffer // stdout lines that were not JSON
	stderr   *syncBuffer
	runtime  string
	versions map[string]string
}

// startRunner starts argv in dir and sends it j.
func startRunner(ctx context.Context, name, dir string, j job, argv ...string) (*runner, error) {
	r := &runner{name: name, lines: make(chan runnerLine, 64), garbage: &syncBuffer{}, stderr: &syncBuffer{}}
	r.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	r.cmd.Dir = dir
	r.cmd.Stderr = r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s runner: %w", name, err)
	}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l runnerLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				fmt.Fprintln(r.garbage, sc.Text())
				continue
			}
			r.lines <- l
		}
	}()
	if err := r.send(j); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *runner) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := r.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write to the %s runner: %w", r.name, err)
	}
	return nil
}

// collect returns the rows reported until the runner says phase is done.
func (r *runner) collect(phase string, timeout time.Duration) ([]rowResult, error) {
	var rows []rowResult
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				return rows, fmt.Errorf("the %s runner ended before %q was done: %v\nstderr:\n%s\nstdout:\n%s",
					r.name, phase, r.cmd.Wait(), r.stderr.String(), r.garbage.String())
			}
			switch {
			case l.Versions != nil:
				r.runtime, r.versions = l.Runtime, l.Versions
			case l.Done == phase:
				return rows, nil
			case l.Done != "":
				return rows, fmt.Errorf("the %s runner finished %q, want %q", r.name, l.Done, phase)
			default:
				rows = append(rows, l.rowResult)
			}
		case <-deadline:
			return rows, fmt.Errorf("the %s runner has not finished %q after %v\nstderr:\n%s", r.name, phase, timeout, r.stderr.String())
		}
	}
}

// finish closes stdin, which ends the runner, and waits for it.
func (r *runner) finish() error {
	r.stdin.Close()
	for range r.lines {
	}
	if err := r.cmd.Wait(); err != nil {
		return fmt.Errorf("the %s runner: %w\nstderr:\n%s", r.name, err, r.stderr.String())
	}
	return nil
}
