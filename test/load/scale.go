package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// scaleReport is the run with many apps in the store.
type scaleReport struct {
	alg       string
	apps      int
	spread    int
	seedTime  time.Duration
	firstBoot time.Duration
	run       scaleRun
}

// scaleRun is one server start on the seeded store and what it measured.
type scaleRun struct {
	startup  time.Duration
	startRSS uint64
	// misses are the latencies of first requests, one app at a time,
	// for apps spread over the whole store (each a cache miss).
	misses    []time.Duration
	missFails map[string]int
	single    outcome
	cold      outcome
	spreadRun outcome
	endRSS    uint64
	// heapProfile is the server's heap profile at the end (with
	// -profile), heapTop the top of its in-use bytes.
	heapProfile, heapTop string
}

// runScale seeds cfg.apps apps, starts the server on them and measures
// start-up, RSS, the cost of a cache miss, one app's throughput, and
// throughput spread over cfg.spread apps against one app's.
func runScale(ctx context.Context, cfg config) (scaleReport, error) {
	rep := scaleReport{alg: cfg.scaleAlg, apps: cfg.apps, spread: min(cfg.spread, cfg.apps)}
	dir, err := cfg.dataDir("scale")
	if err != nil {
		return rep, err
	}
	fmt.Fprintf(os.Stderr, "scale: seeding %d apps into %s\n", cfg.apps, dir)
	clients, took, err := seedApps(ctx, dir, cfg.apps, rep.spread)
	if err != nil {
		return rep, err
	}
	rep.seedTime = took
	opts := serverOptions{bin: cfg.bin, dataDir: dir, alg: cfg.scaleAlg, logLevel: cfg.logLevel, gogc: cfg.gogc, pprof: cfg.profileDir != ""}
	// The first start creates the KEK, the first signing key and the
	// account; the later ones are measured.
	srv, err := startServer(ctx, opts)
	if err != nil {
		return rep, err
	}
	rep.firstBoot = srv.startup
	srv.stop()

	rep.run, err = scaleOnce(ctx, cfg, opts, clients)
	return rep, err
}

// scaleOnce starts the server on the seeded store and measures it.
func scaleOnce(ctx context.Context, cfg config, opts serverOptions, clients []client) (scaleRun, error) {
	var r scaleRun
	srv, err := startServer(ctx, opts)
	if err != nil {
		return r, err
	}
	defer srv.stop()
	r.startup = srv.startup
	r.startRSS, _ = procStatus(srv.pid(), "VmRSS")
	tokenURL := srv.publicURL + "/oauth2/token"

	// Cache misses one at a time, for apps spread over the whole store.
	fmt.Fprintf(os.Stderr, "scale: cache misses, one at a time\n")
	r.missFails = map[string]int{}
	step := max(len(clients)/cfg.missProbes, 1)
	for i := 0; i < len(clients) && len(r.misses) < cfg.missProbes; i += step {
		start := time.Now()
		status, err := tokenStatus(ctx, tokenURL, clients[i])
		r.misses = append(r.misses, time.Since(start))
		switch {
		case err != nil:
			r.missFails[err.Error()]++
		case status != http.StatusOK:
			r.missFails[fmt.Sprintf("status %d", status)]++
		}
	}
	slices.Sort(r.misses)

	single := []vegeta.Target{tokenTarget(tokenURL, clients[0])}
	fmt.Fprintf(os.Stderr, "scale: one app\n")
	if cfg.warmup > 0 {
		run(load{name: "warm-up", conns: cfg.conns, duration: cfg.warmup, targets: roundRobin(single, 0)})
	}
	r.single = run(load{name: "one app", conns: cfg.conns, duration: cfg.duration,
		targets: roundRobin(single, 0), pid: srv.pid(), check: isToken})
	targets := make([]vegeta.Target, len(clients))
	for i, c := range clients {
		targets[i] = tokenTarget(tokenURL, c)
	}
	fmt.Fprintf(os.Stderr, "scale: first request of each of %d apps\n", len(targets))
	r.cold = run(load{name: "cold", conns: cfg.conns, duration: time.Hour,
		targets: roundRobin(targets, len(targets)), pid: srv.pid(), check: isToken})
	fmt.Fprintf(os.Stderr, "scale: spread over %d apps\n", len(targets))
	r.spreadRun = run(load{name: "spread", conns: cfg.conns, duration: cfg.duration,
		targets: roundRobin(targets, 0), pid: srv.pid(), check: isToken})
	r.endRSS, _ = procStatus(srv.pid(), "VmRSS")
	if cfg.profileDir != "" {
		r.heapProfile = filepath.Join(cfg.profileDir, "scale.heap.pprof")
		if err := srv.heapProfile(ctx, r.heapProfile); err != nil {
			return r, err
		}
		r.heapTop, err = pprofTop(opts.bin, r.heapProfile, cfg.profileTop)
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

func (r scaleReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n== scale: %s, %d apps in the embedded store (seeded with Store.ImportApps in %s); first start (key generation) %s\n",
		r.alg, r.apps, r.seedTime.Round(time.Millisecond), r.firstBoot.Round(time.Millisecond))
	r.run.print(w, "defaults", r.spread)
}

func (r scaleRun) print(w io.Writer, title string, spread int) {
	cores := runtime.GOMAXPROCS(0)
	fmt.Fprintf(w, "  -- %s\n", title)
	fmt.Fprintf(w, "  start-up to /readyz 200: %s; RSS after start %.0f MB\n", r.startup.Round(time.Millisecond), float64(r.startRSS)/(1<<20))
	if n := len(r.misses); n > 0 {
		fmt.Fprintf(w, "  first request of an app (cache miss), %d apps spread over the store, one at a time: median %s, max %s",
			n, ms(r.misses[n/2]), ms(r.misses[n-1]))
		for e, c := range r.missFails {
			fmt.Fprintf(w, "; %d failed: %s", c, e)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %-26s %10s %10s\n", "", "measured", "alone")
	line(w, "one app", r.single, cores, "")
	if r.cold.requests > 0 {
		line(w, fmt.Sprintf("first use of %d apps", spread), r.cold, cores, "  (cache misses)")
		line(w, fmt.Sprintf("spread over %d apps", spread), r.spreadRun, cores,
			ratios(pair(r.spreadRun, cores), pair(r.single, cores), "one app", rate{}, ""))
	}
	fmt.Fprintf(w, "  RSS at the end: %.0f MB\n", float64(r.endRSS)/(1<<20))
	if r.heapProfile != "" {
		fmt.Fprintf(w, "  heap profile at the end: %s (live bytes, after a GC)\n%s", r.heapProfile, r.heapTop)
	}
}

// tokenStatus sends one token request and returns the status.
func tokenStatus(ctx context.Context, tokenURL string, c client) (int, error) {
	t := tokenTarget(tokenURL, c)
	req, err := t.Request()
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
