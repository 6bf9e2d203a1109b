// Command load measures authserver's token endpoint against the limits of
// the machine it runs on. It builds and starts the real `authserver serve`
// as a separate process on a temporary data directory, creates apps
// through the admin API, drives the endpoints over loopback with vegeta
// (as a library), and reports, from the same run:
//
//   - S, the raw signing rate of the algorithm on every core (in-process,
//     the same key type, a real token's signing input), and V, the raw
//     verification rate;
//   - H, the rate of a trivial net/http handler (a process of its own) that
//     parses the same form and writes a same-sized JSON body, under the
//     same load generator;
//   - F = 1/(1/H + 1/S), the machine's floor for a token endpoint;
//   - tokens/s in a closed loop of N connections, with p50/p99/p99.9
//     latency, errors, the server's CPU per token and peak RSS, as ratios
//     of S and F; latency in an open loop at a fixed rate; the JWKS (200
//     and 304); introspection once the server advertises it; the token
//     endpoint with a DPoP proof per request against without, per proof
//     algorithm, once the server advertises DPoP;
//   - with -apps M: M apps seeded into the store, the server's start-up
//     time and RSS with them, and throughput spread over -spread of them.
//
// See test/load/README.md for how every published figure was produced.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// audience is the resource every load app may request.
const audience = "https://api.example.com"

// config is the command line.
type config struct {
	algs        []string
	conns       int
	duration    time.Duration
	warmup      time.Duration
	signFor     time.Duration
	rate        int
	rsaBits     int
	apps        int
	spread      int
	scaleAlg    string
	missProbes  int
	phases      map[string]bool
	bin         string
	logLevel    string
	gogc        string
	profileDir  string
	keep        bool
	profileTop  int
	tmpRoot     string
	startedWith string
	// generator is "vegeta" or "wrk"; wrk is the wrk binary's path when
	// it is "wrk" (closed loops with one request run with it).
	generator string
	wrk       string
	// dpopAlgs are the proof algorithms of the DPoP phase; dpopMakeBudget
	// bounds the time spent making one run's proofs.
	dpopAlgs       []string
	dpopMakeBudget time.Duration
	// dpopReplay is the server's dpop.replay; empty: its default.
	dpopReplay string
}

var allPhases = []string{"refs", "token", "open", "jwks", "introspect", "dpop", "scale"}

func main() {
	var (
		cfg        config
		algs       string
		phases     string
		trivial    bool
		tokenBytes int
		jwksBytes  int
		proofAlgs  string
	)
	flag.StringVar(&algs, "alg", "RS256", "signing algorithms to measure, comma-separated: RS256, ES256, EdDSA")
	flag.IntVar(&cfg.conns, "c", 64, "connections (closed loop: requests in flight)")
	flag.DurationVar(&cfg.duration, "d", 10*time.Second, "duration of each measured run")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured closed-loop run before the first measured one")
	flag.DurationVar(&cfg.signFor, "sign-duration", 3*time.Second, "duration of each in-process reference (S, go-jose, V)")
	flag.IntVar(&cfg.rate, "rate", 0, "open-loop rate in requests/s; 0: half of the closed-loop tokens/s just measured")
	flag.IntVar(&cfg.rsaBits, "rsa-bits", 2048, "RS256 key size, as the server's tokens.rsa_bits")
	flag.IntVar(&cfg.apps, "apps", 0, "scale run: apps to seed into the store (e.g. 100000); 0 skips the scale run")
	flag.IntVar(&cfg.spread, "spread", 10_000, "scale run: spread requests over this many of the seeded apps")
	flag.StringVar(&cfg.scaleAlg, "scale-alg", "ES256", "signing algorithm of the scale run (a cheap signature shows the overheads)")
	flag.IntVar(&cfg.missProbes, "miss-probes", 20, "scale run: cache misses timed one at a time")
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "phases to run: "+strings.Join(allPhases, ","))
	flag.StringVar(&cfg.bin, "bin", "", "authserver binary to run (default: go build ./cmd/authserver into a temporary directory)")
	flag.StringVar(&cfg.logLevel, "log-level", "info", "the server's log.level (info, the default, writes one access-log line per request)")
	flag.StringVar(&cfg.gogc, "gogc", "", "GOGC of the server and H processes (Go's GC target, percent of the live heap); empty: inherited from this process's environment, Go's default 100 when unset")
	flag.StringVar(&cfg.profileDir, "profile", "", "directory: take a CPU profile of the server during each closed-loop token run (pprof on a loopback listener) and print its top")
	flag.IntVar(&cfg.profileTop, "profile-top", 30, "lines of `go tool pprof -top` to print")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary data directories and server logs")
	flag.StringVar(&cfg.generator, "generator", "vegeta", "load generator of the closed loops of one request (H, token, JWKS, introspection): vegeta (in this process) or wrk (Debian's wrk package, on PATH); open loops and the scale run always use vegeta")
	flag.StringVar(&proofAlgs, "dpop-algs", strings.Join(dpopAlgs, ","), "DPoP phase: proof algorithms to measure, comma-separated: ES256, EdDSA, RS256, PS256")
	flag.DurationVar(&cfg.dpopMakeBudget, "dpop-make-budget", 40*time.Second, "DPoP phase: most time spent making one run's proofs before it (with -d, at most 100s: proofs stay valid for 110s)")
	flag.StringVar(&cfg.dpopReplay, "dpop-replay", "", "the server's dpop.replay: memory or database (one insert per bound token); empty: the server's default (auto: memory on the embedded database)")
	flag.BoolVar(&trivial, "trivial", false, "internal: serve the trivial reference handler (H)")
	flag.IntVar(&tokenBytes, "trivial-token-bytes", 1000, "internal: body size of the trivial token response")
	flag.IntVar(&jwksBytes, "trivial-jwks-bytes", 500, "internal: body size of the trivial JWKS response")
	flag.Parse()

	if trivial {
		if err := runTrivial(tokenBytes, jwksBytes); err != nil {
			fmt.Fprintln(os.Stderr, "trivial server:", err)
			os.Exit(1)
		}
		return
	}
	cfg.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		cfg.phases[strings.TrimSpace(p)] = true
	}
	for _, a := range strings.Split(algs, ",") {
		a = strings.TrimSpace(a)
		if _, err := signingKey(a, 1024); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cfg.algs = append(cfg.algs, a)
	}
	for _, a := range strings.Split(proofAlgs, ",") {
		a = strings.TrimSpace(a)
		if _, err := proofKey(a); err != nil {
			fmt.Fprintln(os.Stderr, "-dpop-algs:", err)
			os.Exit(2)
		}
		cfg.dpopAlgs = append(cfg.dpopAlgs, a)
	}
	if cfg.phases["dpop"] && cfg.dpopMakeBudget+cfg.duration > proofLead+50*time.Second {
		fmt.Fprintf(os.Stderr, "-dpop-make-budget %s and -d %s: together at most %s, while the proofs are valid\n",
			cfg.dpopMakeBudget, cfg.duration, proofLead+50*time.Second)
		os.Exit(2)
	}
	switch cfg.generator {
	case "vegeta":
	case "wrk":
		path, err := exec.LookPath("wrk")
		if err != nil {
			fmt.Fprintln(os.Stderr, "-generator wrk: no wrk on PATH (apt-get install wrk):", err)
			os.Exit(2)
		}
		cfg.wrk = path
	default:
		fmt.Fprintf(os.Stderr, "-generator %q: want vegeta or wrk\n", cfg.generator)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runAll(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func runAll(ctx context.Context, cfg config) error {
	root, err := os.MkdirTemp("", "authserver-load-")
	if err != nil {
		return err
	}
	cfg.tmpRoot = root
	if cfg.keep {
		fmt.Fprintf(os.Stderr, "keeping data directories and logs under %s\n", root)
	} else {
		defer os.RemoveAll(root)
	}
	if cfg.bin == "" {
		fmt.Fprintln(os.Stderr, "building cmd/authserver ...")
		if cfg.bin, err = buildServer(ctx, root); err != nil {
			return err
		}
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	cfg.startedWith = loadAverage()
	printMachine(cfg)
	algPhases := cfg.phases["refs"] || cfg.phases["token"] || cfg.phases["open"] || cfg.phases["jwks"] || cfg.phases["introspect"] || cfg.phases["dpop"]
	for _, alg := range cfg.algs {
		if !algPhases {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := runAlg(ctx, cfg, alg)
		if err != nil {
			return fmt.Errorf("%s: %w", alg, err)
		}
		r.print(os.Stdout)
	}
	if cfg.phases["scale"] && cfg.apps > 0 {
		r, err := runScale(ctx, cfg)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		r.print(os.Stdout)
	}
	fmt.Printf("\nload average at the end: %s (started at %s)\n", loadAverage(), cfg.startedWith)
	return nil
}

// dataDir makes a fresh data directory under the run's temporary root.
func (cfg config) dataDir(name string) (string, error) {
	dir := filepath.Join(cfg.tmpRoot, name)
	return dir, os.MkdirAll(dir, 0o700)
}

// loadAverage returns /proc/loadavg's first three fields, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func printMachine(cfg config) {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s; load average %s at start\n",
		runtime.NumCPU(), model, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, cfg.startedWith)
	gen := "vegeta v12 in this process"
	if cfg.wrk != "" {
		gen = "wrk (" + cfg.wrk + ", one thread per core) for closed loops of one request, vegeta v12 in this process for the others"
	}
	gogc := cfg.gogc
	if gogc == "" {
		gogc = os.Getenv("GOGC")
	}
	if gogc == "" {
		gogc = "100 (Go's default)"
	}
	fmt.Printf("load: %s, %d connections, %s per run (warm-up %s), server log.level %s, GOGC %s; server, H and the load generator share these cores\n",
		gen, cfg.conns, cfg.duration, cfg.warmup, cfg.logLevel, gogc)
}

var errSkipped = errors.New("skipped")
