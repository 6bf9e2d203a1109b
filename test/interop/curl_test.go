package interop

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// curl runs curl with args, as the README's commands do, and decodes the
// JSON body it prints into out (when not nil). A status of 400 or more is
// an error that carries the body (--fail-with-body).
func curl(ctx context.Context, out any, args ...string) error {
	return curlIn(ctx, nil, out, args...)
}

// curlIn is curl with stdin (for -H @-).
func curlIn(ctx context.Context, stdin []byte, out any, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--fail-with-body"}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("curl: %v: %s %s", err, strings.TrimSpace(stderr.String()), b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("curl printed no JSON object: %q", b)
		}
	}
	return nil
}

// curlVersion returns curl's first --version line and its version.
func curlVersion(t *testing.T) (runtime, version string) {
	t.Helper()
	out, err := exec.Command("curl", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(first); len(f) > 1 {
		version = f[1]
	}
	return strings.TrimSpace(first), version
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
}

// dpopHeaders runs the README's test-harness command with the server's
// CLI (cli): a delegated login bound to a DPoP key generated into a
// temporary file, printing the headers of one POST to /getprofile. It
// returns them, the token and the key's thumbprint (computed with jwx from
// the key file).
func dpopHeaders(ctx context.Context, j job, cli string) (headers []byte, token, jkt string, err error) {
	dir, err := os.MkdirTemp("", "interop-dpop-")
	if err != nil {
		return nil, "", "", err
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "dpop.pem")
	cmd := exec.CommandContext(ctx, cli, "customer-token", "--url", j.CustomerAuthenticateEndpoint, "--client-id", j.ClientID,
		"--customer-id", j.CustomerID, "--dpop-key", keyFile, "--dpop-resource", j.GetProfileEndpoint, "-o", "headers")
	cmd.Env = append(os.Environ(), "AUTHSERVER_CLIENT_SECRET="+j.ClientSecret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if headers, err = cmd.Output(); err != nil {
		return nil, "", "", fmt.Errorf("authserver customer-token: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	for _, line := range strings.Split(string(headers), "\n") {
		if t, ok := strings.CutPrefix(line, "Authorization: DPoP "); ok {
			token = t
		}
	}
	if token == "" {
		return nil, "", "", fmt.Errorf("authserver customer-token printed no DPoP token: %q", headers)
	}
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, "", "", err
	}
	key, err := jwk.ParseKey(pemBytes, jwk.WithPEM(true))
	if err != nil {
		return nil, "", "", fmt.Errorf("the generated key: %w", err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, "", "", err
	}
	sum, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, "", "", err
	}
	return headers, token, base64.RawURLEncoding.EncodeToString(sum), nil
}

// refusedBy passes a refusal row when curl failed (a status of 400 or
// more) with a body that says each of says.
func refusedBy(err error, says ...string) (rowResult, error) {
	if err == nil {
		return rowResult{}, errors.New("the request was accepted")
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			return rowResult{}, fmt.Errorf("refused otherwise than with %s: %w", s, err)
		}
	}
	return rowResult{Detail: "refused: " + says[0]}, nil
}

// runCurl runs curl's rows of a column; cli is the server's binary, for
// the rows whose commands use it.
func runCurl(ctx context.Context, j job, rows []jobRow, cli string) []rowResult {
	basic := []string{"-u", j.ClientID + ":" + j.ClientSecret}
	token := func(auth ...string) (string, error) {
		var tr tokenResponse
		args := append(auth, "-d", "grant_type=client_credentials", "-d", "scope="+j.Scope, j.TokenEndpoint)
		if err := curl(ctx, &tr, args...); err != nil {
			return "", err
		}
		if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "bearer") {
			return "", fmt.Errorf("token response without a bearer access_token (token_type %q)", tr.TokenType)
		}
		return tr.AccessToken, nil
	}
	introspect := func(tok string) (map[string]any, error) {
		var res map[string]any
		err := curl(ctx, &res, append(basic, "-d", "token="+tok, j.IntrospectionEndpoint)...)
		return res, err
	}
	do := map[string]func() (rowResult, error){
		scBasic: func() (rowResult, error) {
			tok, err := token(basic...)
			return rowResult{Token: tok}, err
		},
		scPost: func() (rowResult, error) {
			tok, err := token("-d", "client_id="+j.ClientID, "-d", "client_secret="+j.ClientSecret)
			return rowResult{Token: tok}, err
		},
		scDiscovery: func() (rowResult, error) {
			var md map[string]any
			if err := curl(ctx, &md, j.Issuer+"/.well-known/oauth-authorization-server"); err != nil {
				return rowResult{}, err
			}
			if md["issuer"] != j.Issuer || md["token_endpoint"] != j.TokenEndpoint || md["jwks_uri"] != j.JWKSURI {
				return rowResult{}, fmt.Errorf("metadata names issuer %v, token_endpoint %v, jwks_uri %v", md["issuer"], md["token_endpoint"], md["jwks_uri"])
			}
			return rowResult{}, nil
		},
		scIntrospect: func() (rowResult, error) {
			tok, err := token(basic...)
			if err != nil {
				return rowResult{}, err
			}
			res, err := introspect(tok)
			if err != nil {
				return rowResult{}, err
			}
			if res["active"] != true || res["client_id"] != j.ClientID {
				return rowResult{}, fmt.Errorf("introspection says active %v, client_id %v", res["active"], res["client_id"])
			}
			return rowResult{}, nil
		},
		scRevoke: func() (rowResult, error) {
			tok, err := token(basic...)
			if err != nil {
				return rowResult{}, err
			}
			if err := curl(ctx, nil, append(basic, "-d", "token="+tok, j.RevocationEndpoint)...); err != nil {
				return rowResult{}, err
			}
			res, err := introspect(tok)
			if err != nil {
				return rowResult{}, err
			}
			if res["active"] != false {
				return rowResult{}, fmt.Errorf("a revoked token introspects as active %v", res["active"])
			}
			return rowResult{}, nil
		},
		scDelegated: func() (rowResult, error) {
			var tr tokenResponse
			if err := curl(ctx, &tr, append(basic, "-d", "customer_id="+j.CustomerID, j.CustomerAuthenticateEndpoint)...); err != nil {
				return rowResult{}, err
			}
			var profile map[string]any
			if err := curl(ctx, &profile, "-X", "POST", "-H", "Authorization: Bearer "+tr.AccessToken, "-H", "X-API-Key: "+j.ClientID, j.GetProfileEndpoint); err != nil {
				return rowResult{Token: tr.AccessToken}, fmt.Errorf("getprofile: %w", err)
			}
			claims, err := jwsPart(tr.AccessToken, 1)
			if err != nil {
				return rowResult{}, err
			}
			if profile["customer"] != claims["sub"] || profile["app_id"] != j.ClientID {
				return rowResult{}, fmt.Errorf("getprofile answered %v for sub %v", profile, claims["sub"])
			}
			return rowResult{Token: tr.AccessToken}, nil
		},
		scDPoPProfile: func() (rowResult, error) {
			headers, tok, jkt, err := dpopHeaders(ctx, j, cli)
			if err != nil {
				return rowResult{}, err
			}
			var profile map[string]any
			if err := curlIn(ctx, headers, &profile, "-X", "POST", "-H", "@-", "-H", "X-API-Key: "+j.ClientID, j.GetProfileEndpoint); err != nil {
				return rowResult{Token: tok, JKT: jkt}, fmt.Errorf("getprofile: %w", err)
			}
			claims, err := jwsPart(tok, 1)
			if err != nil {
				return rowResult{}, err
			}
			if profile["customer"] != claims["sub"] {
				return rowResult{}, fmt.Errorf("getprofile answered %v for sub %v", profile, claims["sub"])
			}
			return rowResult{Token: tok, JKT: jkt}, nil
		},
		scDPoPReplay: func() (rowResult, error) {
			headers, _, _, err := dpopHeaders(ctx, j, cli)
			if err != nil {
				return rowResult{}, err
			}
			args := []string{"-X", "POST", "-H", "@-", "-H", "X-API-Key: " + j.ClientID, j.GetProfileEndpoint}
			if err := curlIn(ctx, headers, nil, args...); err != nil {
				return rowResult{}, fmt.Errorf("first use of the headers: %w", err)
			}
			err = curlIn(ctx, headers, nil, args...)
			return refusedBy(err, `"error":"invalid_dpop_proof"`, "already used")
		},
		scDPoPBearer: func() (rowResult, error) {
			_, tok, _, err := dpopHeaders(ctx, j, cli)
			if err != nil {
				return rowResult{}, err
			}
			err = curl(ctx, nil, "-X", "POST", "-H", "Authorization: Bearer "+tok, "-H", "X-API-Key: "+j.ClientID, j.GetProfileEndpoint)
			return refusedBy(err, `"error":"invalid_token"`, "DPoP-bound")
		},
	}
	var out []rowResult
	for _, r := range rows {
		f, ok := do[r.Scenario]
		if !ok {
			out = append(out, rowResult{Library: r.Library, Scenario: r.Scenario, Error: "curl has no such scenario"})
			continue
		}
		res, err := f()
		res.Library, res.Scenario, res.OK = r.Library, r.Scenario, err == nil
		if err != nil {
			res.Error = err.Error()
		}
		out = append(out, res)
	}
	return out
}
