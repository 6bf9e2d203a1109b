package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/verifier/dpop"
)

// dpopFlags are the DPoP flags of token and customer-token: a key to bind
// the token to (RFC 9449), and the resource request to make a proof for.
type dpopFlags struct {
	keyFile  string
	alg      string
	resource string
	method   string
}

func (d *dpopFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.keyFile, "dpop-key", "", "PEM private key to bind the token to with DPoP (RFC 9449); a P-256 key is generated there, mode 0600, if the file does not exist")
	f.StringVar(&d.alg, "dpop-alg", "", "proof algorithm: ES256 (P-256), EdDSA (Ed25519), RS256 or PS256 (RSA); default by the key's type")
	f.StringVar(&d.resource, "dpop-resource", "", "also print a proof for a request to this resource URL with the token (json, shell and headers outputs)")
	f.StringVar(&d.method, "dpop-method", http.MethodPost, "the method of the --dpop-resource request")
}

// check refuses DPoP flags that make no sense alone.
func (d *dpopFlags) check() error {
	if d.keyFile == "" && (d.resource != "" || d.alg != "") {
		return errors.New("--dpop-resource and --dpop-alg need --dpop-key")
	}
	return nil
}

// dpopSession is a client's DPoP key in use: it signs a proof for every
// request made through its transport, and remembers each server's latest
// nonce (RFC 9449 §8, §9), by origin: one server's nonce means nothing
// to another.
type dpopSession struct {
	key crypto.Signer
	alg string
	jkt string

	mu     sync.Mutex
	nonces map[string]string // origin → nonce
}

// origin is the scheme and host of uri, the key of a nonce.
func origin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func (s *dpopSession) nonce(uri string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nonces[origin(uri)]
}

func (s *dpopSession) setNonce(uri, nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonces[origin(uri)] = nonce
}

// newDPoPSession loads the key of d, generating it first if the file does
// not exist (saying so on stderr). It returns nil without --dpop-key.
func newDPoPSession(d *dpopFlags, stderr io.Writer) (*dpopSession, error) {
	if d.keyFile == "" {
		return nil, nil
	}
	key, err := loadOrCreateKey(d.keyFile, stderr)
	if err != nil {
		return nil, err
	}
	jkt, err := dpop.Thumbprint(key.Public())
	if err != nil {
		return nil, fmt.Errorf("dpop key %s: %w", d.keyFile, err)
	}
	s := &dpopSession{key: key, alg: d.alg, jkt: jkt, nonces: map[string]string{}}
	// Refuse a key and alg that cannot make a proof before any request.
	if _, err := s.proof(http.MethodPost, "https://example.com/", ""); err != nil {
		return nil, fmt.Errorf("dpop key %s: %w", d.keyFile, err)
	}
	return s, nil
}

// proof makes a proof for method and uri, with the access token's hash if
// token is set and the last nonce uri's server sent.
func (s *dpopSession) proof(method, uri, token string) (string, error) {
	return s.proofWith(method, uri, token, s.nonce(uri))
}

func (s *dpopSession) proofWith(method, uri, token, nonce string) (string, error) {
	return dpop.NewProof(s.key, dpop.ProofParams{Method: method, URI: uri, AccessToken: token, Nonce: nonce, Algorithm: s.alg})
}

// client returns an HTTP client that sends a fresh proof with every
// request (RFC 9449 §5) and, when the server answers 400 or 401 with a
// new DPoP-Nonce (use_dpop_nonce, §8), sends the request once more with
// a proof that carries it.
func (s *dpopSession) client(base *http.Client) *http.Client {
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &dpopTransport{s: s, next: next}
	return &c
}

type dpopTransport struct {
	s    *dpopSession
	next http.RoundTripper
}

func (t *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, sent, err := t.send(req)
	if err != nil {
		return nil, err
	}
	fresh := resp.Header.Get("DPoP-Nonce")
	if fresh == "" {
		return resp, nil
	}
	t.s.setNonce(req.URL.String(), fresh)
	if (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized) || fresh == sent || req.GetBody == nil && req.Body != nil {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	resp, _, err = t.send(retry)
	return resp, err
}

// send adds a proof for req (with the nonce known now) and sends it; it
// returns the nonce the proof carried.
func (t *dpopTransport) send(req *http.Request) (*http.Response, string, error) {
	nonce := t.s.nonce(req.URL.String())
	proof, err := t.s.proofWith(req.Method, req.URL.String(), "", nonce)
	if err != nil {
		return nil, "", fmt.Errorf("dpop proof: %w", err)
	}
	out := req.Clone(req.Context())
	out.Header.Set("DPoP", proof)
	resp, err := t.next.RoundTrip(out)
	return resp, nonce, err
}

// loadOrCreateKey reads a PEM private key (PKCS #8 "PRIVATE KEY", SEC 1
// "EC PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY"), or, when path does not
// exist, generates a P-256 key and writes it there as PKCS #8, mode 0600,
// saying so on stderr. A key file readable by others is used, with a
// warning. Harness processes that race to create the key all end up
// with the one that was written first. A dangling symlink at path is an
// error, never followed to create its target.
func loadOrCreateKey(path string, stderr io.Writer) (crypto.Signer, error) {
	key, err := readKey(path, stderr)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = createKey(path, stderr)
	if errors.Is(err, fs.ErrExist) {
		// Another process linked its key first, or path is a dangling
		// symlink (then readKey fails with not-exist again).
		return readKey(path, stderr)
	}
	return key, err
}

// readKey reads the key at path; its error wraps fs.ErrNotExist when there
// is none.
func readKey(path string, stderr io.Writer) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dpop key: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "warning: the DPoP key %s is readable by others (mode %04o); whoever reads it can use your bound tokens\n", path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("dpop key: %w", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("dpop key %s: %w", path, err)
	}
	return key, nil
}

// createKey generates a P-256 key and puts it at path whole: written to a
// temporary file (0600) in path's directory, then hard-linked to path,
// which never replaces an existing file. Its error wraps fs.ErrExist when
// path exists, a dangling symlink included.
func createKey(path string, stderr io.Writer) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate dpop key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dpop key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dpop-key-*")
	if err != nil {
		return nil, fmt.Errorf("create dpop key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write dpop key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write dpop key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("create dpop key: %w", err)
	}
	jkt, _ := dpop.Thumbprint(&key.PublicKey)
	fmt.Fprintf(stderr, "generated a P-256 DPoP key in %s (mode 0600, jkt %s)\n", path, jkt)
	return key, nil
}

// parseKey reads the first PEM block of data as a private key of a type
// DPoP proofs use.
func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("an EC key must be on P-256 (ES256)")
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T (P-256, Ed25519 or RSA)", key)
	}
}

// dpopOutput is what token and customer-token print besides the token
// when they bound it: the key's thumbprint and, with --dpop-resource, a
// proof for that request.
type dpopOutput struct {
	JKT   string
	Proof string
}

func (s *dpopSession) output(d *dpopFlags, token string) (*dpopOutput, error) {
	if s == nil {
		return nil, nil
	}
	out := &dpopOutput{JKT: s.jkt}
	if d.resource != "" {
		p, err := s.proof(d.method, d.resource, token)
		if err != nil {
			return nil, fmt.Errorf("proof for --dpop-resource: %w", err)
		}
		out.Proof = p
	}
	return out, nil
}

// warnIfUnbound tells the user that the server did not bind the token
// (RFC 9449 §5: a server without DPoP ignores the header and answers
// Bearer).
func warnIfUnbound(stderr io.Writer, s *dpopSession, tokenType string) {
	if s != nil && !strings.EqualFold(tokenType, "DPoP") {
		fmt.Fprintf(stderr, "warning: the server answered token_type %q: the token is not bound to the DPoP key\n", tokenType)
	}
}

// printToken writes an access token in one of the outputs of token and
// customer-token: "token" (the bare token), "json" (answer, plus dpop_jkt
// and dpop_proof), "shell" (export lines) or "headers" (the request
// headers of a call to --dpop-resource, for curl -H @-).
func printToken(w io.Writer, output string, answer map[string]any, token, tokenType string, d *dpopOutput) error {
	switch output {
	case "token", "":
		_, err := fmt.Fprintln(w, token)
		return err
	case "json":
		if d != nil {
			answer["dpop_jkt"] = d.JKT
			if d.Proof != "" {
				answer["dpop_proof"] = d.Proof
			}
		}
		return printJSON(w, answer)
	case "shell":
		var b bytes.Buffer
		fmt.Fprintf(&b, "export AUTHSERVER_ACCESS_TOKEN=%s\n", shellQuote(token))
		fmt.Fprintf(&b, "export AUTHSERVER_TOKEN_TYPE=%s\n", shellQuote(scheme(tokenType)))
		if d != nil && d.Proof != "" {
			fmt.Fprintf(&b, "export AUTHSERVER_DPOP_PROOF=%s\n", shellQuote(d.Proof))
		}
		_, err := w.Write(b.Bytes())
		return err
	case "headers":
		var b bytes.Buffer
		fmt.Fprintf(&b, "Authorization: %s %s\n", scheme(tokenType), token)
		if d != nil && d.Proof != "" {
			fmt.Fprintf(&b, "DPoP: %s\n", d.Proof)
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	return fmt.Errorf("unknown output %q: token, json, shell or headers", output)
}

// scheme is the Authorization scheme of a token_type (RFC 6749 §7.1:
// case-insensitive): DPoP, or Bearer for any other.
func scheme(tokenType string) string {
	if strings.EqualFold(tokenType, "DPoP") {
		return "DPoP"
	}
	return "Bearer"
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func newDPoPProofCommand() *cobra.Command {
	var keyFile, alg, uri, method, token, nonce, output string
	cmd := &cobra.Command{
		Use:   "dpop-proof --key FILE --url URL [--method POST] [--token TOKEN]",
		Short: "Print a fresh DPoP proof (RFC 9449) for one request (for test harnesses)",
		Long: "Each proof is for one request: a server refuses its second use. With --token (or\n" +
			"AUTHSERVER_ACCESS_TOKEN) the proof carries the token's hash, as a resource requires;\n" +
			"-o headers prints the Authorization and DPoP headers of the request, for curl -H @-.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" || uri == "" {
				return errors.New("--key and --url are required")
			}
			if token == "" {
				token = envOr("AUTHSERVER_ACCESS_TOKEN", "")
			}
			s, err := newDPoPSession(&dpopFlags{keyFile: keyFile, alg: alg}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			proof, err := s.proofWith(method, uri, token, nonce)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "proof":
				_, err = fmt.Fprintln(out, proof)
			case "json":
				err = printJSON(out, map[string]string{"dpop_proof": proof, "dpop_jkt": s.jkt})
			case "headers":
				if token != "" {
					_, err = fmt.Fprintf(out, "Authorization: DPoP %s\n", token)
				}
				if err == nil {
					_, err = fmt.Fprintf(out, "DPoP: %s\n", proof)
				}
			default:
				return fmt.Errorf("unknown output %q: proof, json or headers", output)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "PEM private key (generated as P-256, mode 0600, if the file does not exist)")
	f.StringVar(&alg, "alg", "", "ES256 (P-256), EdDSA (Ed25519), RS256 or PS256 (RSA); default by the key's type")
	f.StringVar(&uri, "url", "", "the URL of the request (htu; query and fragment are left out)")
	f.StringVar(&method, "method", http.MethodPost, "the method of the request (htm)")
	f.StringVar(&token, "token", "", "the access token the request carries (ath); env AUTHSERVER_ACCESS_TOKEN")
	f.StringVar(&nonce, "nonce", "", "the server's last DPoP-Nonce, if it requires one")
	f.StringVarP(&output, "output", "o", "proof", "proof (the bare proof), json or headers")
	return cmd
}
