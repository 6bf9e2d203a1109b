package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The trivial server is the reference H: a plain net/http handler that does
// the parts of a token request every server must do (read and parse the
// form, decode Basic credentials, write a JSON body of the same size as
// authserver's, with the same headers) and nothing else: no client look-up,
// no secret check, no signature. It runs as a process of its own, the load
// tool re-executing itself with -trivial, so that it competes for the same
// cores as authserver does.

// trivialTokenBody returns a token-response-shaped JSON body of exactly n
// bytes (n at least 80).
func trivialTokenBody(n int) []byte {
	head, tail := `{"access_token":"`, `","expires_in":3600,"scope":"read","token_type":"bearer"}`
	pad := max(n-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// trivialJWKSBody returns a JWKS-shaped JSON body of exactly n bytes (n at
// least 40).
func trivialJWKSBody(n int) []byte {
	head, tail := `{"keys":[{"kty":"RSA","n":"`, `"}]}`
	pad := max(n-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// trivialHandler answers POST like a token endpoint and GET like the JWKS,
// each with a body of the given size.
func trivialHandler(tokenBytes, jwksBytes int) http.Handler {
	token, jwks := trivialTokenBody(tokenBytes), trivialJWKSBody(jwksBytes)
	sum := sha256.Sum256(jwks)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	tokenLen, jwksLen := strconv.Itoa(len(token)), strconv.Itoa(len(jwks))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.Method {
		case http.MethodPost:
			if err := r.ParseForm(); err != nil {
				http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
				return
			}
			if _, _, ok := r.BasicAuth(); !ok || r.PostForm.Get("grant_type") != "client_credentials" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			h.Set("Content-Type", "application/json;charset=UTF-8")
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
			h.Set("Content-Length", tokenLen)
			_, _ = w.Write(token)
		case http.MethodGet:
			h.Set("ETag", etag)
			h.Set("Cache-Control", "public, max-age=300")
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			h.Set("Content-Type", "application/jwk-set+json")
			h.Set("Content-Length", jwksLen)
			_, _ = w.Write(jwks)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// runTrivial is the -trivial mode: serve on a free loopback port, print
// "listening ADDR" and serve until stdin closes.
func runTrivial(tokenBytes, jwksBytes int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: trivialHandler(tokenBytes, jwksBytes), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		// The parent closes our stdin to stop us (or dies).
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		_ = srv.Close()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// trivialProc is the H server process.
type trivialProc struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	url   string
}

// startTrivial re-executes this program in -trivial mode.
func startTrivial(ctx context.Context, tokenBytes, jwksBytes int, gogc string) (*trivialProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-trivial",
		"-trivial-token-bytes", strconv.Itoa(tokenBytes), "-trivial-jwks-bytes", strconv.Itoa(jwksBytes))
	cmd.SysProcAttr = childAttr()
	cmd.Env = withGOGC(gogc)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the trivial server: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the trivial server did not start: %q %v", line, err)
	}
	return &trivialProc{cmd: cmd, stdin: stdin, url: "http://" + addr}, nil
}

func (p *trivialProc) pid() int { return p.cmd.Process.Pid }

func (p *trivialProc) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
