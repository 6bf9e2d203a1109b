package interop

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
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects a child process's output; written from the
// process's copier goroutine, read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// repoRoot is the server module's directory, two levels above this one.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "authserver")); err != nil {
		t.Fatalf("the server module is not at %s: %v", root, err)
	}
	return root
}

// goBuild runs "go build -o out pkg" in dir and returns out.
func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, b)
	}
	return nil
}

// server is one "authserver serve" process on its own embedded database.
type server struct {
	alg     string
	bin     string
	dataDir string
	issuer  string // also the public listener's base URL
	admin   string // base URL of the admin listener
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	exitErr error
}

// servingLine is the start-up log line that names the listeners' bound
// addresses (server.Serve; text format).
var servingLine = regexp.MustCompile(`msg=serving public=(\S+) admin=(\S+)`)

// freeLoopbackPort returns a port that was free a moment ago. The issuer
// must name the public listener's port before the process starts (clients
// compare the metadata's issuer with the URL they discovered it at), so
// the process cannot pick it itself; startServer retries if another
// connection took the port in between.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts the binary with signing algorithm alg on a fresh
// data directory and waits until it is ready. The limits on failed client
// authentication are raised: the matrix sends some failing requests on
// purpose (expected failures), all from one address and one client id,
// and the limiter must not turn later rows into 429s.
func startServer(t *testing.T, bin, alg string) *server {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			t.Fatal(err)
		}
		s := &server{alg: alg, bin: bin, dataDir: t.TempDir(), issuer: fmt.Sprintf("http://127.0.0.1:%d", port),
			log: &syncBuffer{}, exited: make(chan struct{})}
		s.cmd = exec.Command(bin, "serve",
			"--data-dir", s.dataDir,
			"--public-addr", fmt.Sprintf("127.0.0.1:%d", port),
			"--admin-addr", "127.0.0.1:0",
			"--issuer", s.issuer,
			"--tokens-algorithm", alg,
			"--limits-client-failure-burst", "100000",
			"--limits-source-failure-burst", "100000",
		)
		s.cmd.Dir = s.dataDir // no configs/authserver.yaml here: defaults, then flags
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start the %s server: %v", alg, err)
		}
		go func() {
			s.exitErr = s.cmd.Wait()
			close(s.exited)
		}()
		t.Cleanup(func() {
			select {
			case <-s.exited:
			default:
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
			if t.Failed() {
				t.Logf("the %s server logged:\n%s", alg, s.log.String())
			}
		})
		lastErr = s.waitReady()
		if lastErr == nil {
			return s
		}
		if !strings.Contains(s.log.String(), "address already in use") {
			t.Fatalf("the %s server: %v\n%s", alg, lastErr, s.log.String())
		}
	}
	t.Fatalf("the %s server: %v", alg, lastErr)
	return nil
}

// waitReady waits for the log line with the listeners' addresses, then
// polls /readyz until it answers 200; it fails if the process exits first.
func (s *server) waitReady() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was ready: %v", s.exitErr)
		default:
		}
		if s.admin == "" {
			if m := servingLine.FindStringSubmatch(s.log.String()); m != nil {
				s.admin = "http://" + m[2]
			}
		}
		if s.admin != "" {
			resp, err := http.Get(s.issuer + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return errors.New("not ready after 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cli runs an admin command of the binary, as an operator would, with the
// owner key the server wrote into its data directory, and decodes its JSON
// output into out. stdin may be nil.
func (s *server) cli(t *testing.T, out any, stdin io.Reader, args ...string) {
	t.Helper()
	cmd := exec.Command(s.bin, append(args, "--output", "json")...)
	cmd.Env = append(os.Environ(), "AUTHSERVER_DATA_DIR="+s.dataDir, "AUTHSERVER_ADMIN_URL="+s.admin)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("authserver %s: %v\n%s", args[0]+" "+args[1], err, stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("authserver %s printed no JSON: %v", args[0]+" "+args[1], err)
		}
	}
}
