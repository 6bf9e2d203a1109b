package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// buildServer compiles cmd/authserver into dir and returns the binary's
// path. It builds in the server's own module with GOWORK=off, as the
// binary ships, whether the load tool runs in the workspace (go.work) or
// in its own module, whose requirements do not cover the server's command.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/authserver/authserver").Output()
	if err != nil {
		return "", fmt.Errorf("find the server module: %w", err)
	}
	bin := filepath.Join(dir, "authserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/authserver")
	cmd.Dir = strings.TrimSpace(string(out))
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build authserver in %s: %w", cmd.Dir, err)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// serverOptions start one authserver process.
type serverOptions struct {
	bin      string
	dataDir  string
	alg      string
	logLevel string
	// gogc is the process's GOGC; empty: inherited.
	gogc  string
	pprof bool
	// extra are more "--flag value" pairs.
	extra []string
}

// withGOGC is this process's environment with GOGC set to gogc, or nil
// (inherit it unchanged) when gogc is empty.
func withGOGC(gogc string) []string {
	if gogc == "" {
		return nil
	}
	return append(os.Environ(), "GOGC="+gogc)
}

// serverProc is a running `authserver serve`: a process of its own, so
// that its RSS and CPU time are its own.
type serverProc struct {
	cmd       *exec.Cmd
	publicURL string
	adminURL  string
	pprofURL  string
	dataDir   string
	logPath   string
	alg       string
	// startup is the time from exec to the first 200 of /readyz.
	startup time.Duration
	exited  chan error
}

// startServer runs `authserver serve` on opts.dataDir with loopback
// listeners on free ports and waits until /readyz answers 200.
func startServer(ctx context.Context, o serverOptions) (*serverProc, error) {
	public, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve",
		"--data-dir", o.dataDir,
		"--public-addr", public, "--admin-addr", admin,
		"--issuer", "http://" + public,
		"--tokens-algorithm", o.alg,
		"--log-level", o.logLevel,
	}
	p := &serverProc{publicURL: "http://" + public, adminURL: "http://" + admin, dataDir: o.dataDir, alg: o.alg,
		logPath: filepath.Join(o.dataDir, "server.log"), exited: make(chan error, 1)}
	if o.pprof {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--debug-pprof-addr", addr)
		p.pprofURL = "http://" + addr
	}
	args = append(args, o.extra...)
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(o.bin, args...)
	// The working directory holds no configs/authserver.yaml: only the
	// built-in defaults and the flags above apply.
	cmd.Dir = o.dataDir
	cmd.Env = withGOGC(o.gogc)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start authserver: %w", err)
	}
	p.cmd = cmd
	go func() { p.exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(p.publicURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.startup = time.Since(start)
				return p, nil
			}
		}
		select {
		case err := <-p.exited:
			return nil, fmt.Errorf("authserver exited during start-up (%v); log: %s", err, p.logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("authserver not ready after 60s; log: %s", p.logPath)
		}
	}
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the graceful shutdown, killing the
// process if it takes longer than 20 s.
func (p *serverProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// adminKey reads the owner account key the server wrote on first start.
func (p *serverProc) adminKey() (string, error) {
	b, err := os.ReadFile(filepath.Join(p.dataDir, "admin.key"))
	if err != nil {
		return "", fmt.Errorf("read admin.key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// client is an app's credentials.
type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// createApp registers an app through the admin API.
func (p *serverProc) createApp(ctx context.Context, name string) (client, error) {
	key, err := p.adminKey()
	if err != nil {
		return client{}, err
	}
	body, _ := json.Marshal(map[string]any{"name": name, "scopes": []string{"read", "write"}, "audiences": []string{audience}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.adminURL+"/admin/v1/apps", bytes.NewReader(body))
	if err != nil {
		return client{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return client{}, fmt.Errorf("create app: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return client{}, fmt.Errorf("create app: status %d: %s", resp.StatusCode, data)
	}
	var c client
	if err := json.Unmarshal(data, &c); err != nil || c.ID == "" || c.Secret == "" {
		return client{}, errors.New("create app: unexpected response")
	}
	return c, nil
}

// metadata returns the server's RFC 8414 metadata.
func (p *serverProc) metadata(ctx context.Context) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.publicURL+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return m, nil
}

// profile fetches a CPU profile of d from the server's pprof listener into
// path. It blocks for d.
func (p *serverProc) profile(ctx context.Context, d time.Duration, path string) error {
	return p.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", int(d.Round(time.Second)/time.Second)), path)
}

// heapProfile fetches the server's heap profile (live objects at the last
// GC) into path.
func (p *serverProc) heapProfile(ctx context.Context, path string) error {
	return p.fetchProfile(ctx, "heap?gc=1", path)
}

// fetchProfile saves /debug/pprof/<query> of the server into path.
func (p *serverProc) fetchProfile(ctx context.Context, query, path string) error {
	if p.pprofURL == "" {
		return errors.New("the server was started without pprof")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.pprofURL+"/debug/pprof/"+query, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: status %d", query, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
