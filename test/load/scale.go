package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
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
	startup   time.Duration
	startRSS  uint64
	single    outcome
	cold      outcome
	spreadRun outcome
	endRSS    uint64
}

// runScale seeds cfg.apps apps, restarts the server on them and compares
// one app's throughput with throughput spread over cfg.spread apps.
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
	opts := serverOptions{bin: cfg.bin, dataDir: dir, alg: cfg.scaleAlg, logLevel: cfg.logLevel}
	// The first start creates the KEK, the first signing key and the
	// account; the second is the one measured.
	srv, err := startServer(ctx, opts)
	if err != nil {
		return rep, err
	}
	rep.firstBoot = srv.startup
	srv.stop()
	srv, err = startServer(ctx, opts)
	if err != nil {
		return rep, err
	}
	defer srv.stop()
	rep.startup = srv.startup
	rep.startRSS, _ = procStatus(srv.pid(), "VmRSS")

	tokenURL := srv.publicURL + "/oauth2/token"
	single := []vegeta.Target{tokenTarget(tokenURL, clients[0])}
	fmt.Fprintf(os.Stderr, "scale: one app of %d\n", cfg.apps)
	if cfg.warmup > 0 {
		run(load{name: "warm-up", conns: cfg.conns, duration: cfg.warmup, targets: roundRobin(single, 0)})
	}
	rep.single = run(load{name: "one app", conns: cfg.conns, duration: cfg.duration,
		targets: roundRobin(single, 0), pid: srv.pid(), check: isToken})

	spread := make([]vegeta.Target, len(clients))
	for i, c := range clients {
		spread[i] = tokenTarget(tokenURL, c)
	}
	fmt.Fprintf(os.Stderr, "scale: first request of each of %d apps (cache misses)\n", len(spread))
	rep.cold = run(load{name: "cold", conns: cfg.conns, duration: 10 * time.Minute,
		targets: roundRobin(spread, len(spread)), pid: srv.pid(), check: isToken})
	fmt.Fprintf(os.Stderr, "scale: spread over %d apps\n", len(spread))
	rep.spreadRun = run(load{name: "spread", conns: cfg.conns, duration: cfg.duration,
		targets: roundRobin(spread, 0), pid: srv.pid(), check: isToken})
	rep.endRSS, _ = procStatus(srv.pid(), "VmRSS")
	return rep, nil
}

func (r scaleReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n== scale: %s, %d apps in the store (seeded through storage.ImportApps in %s)\n", r.alg, r.apps, r.seedTime.Round(time.Millisecond))
	fmt.Fprintf(w, "  start-up to /readyz 200: %s with %d apps (first start, with key generation: %s); RSS after start %.0f MB\n",
		r.startup.Round(time.Millisecond), r.apps, r.firstBoot.Round(time.Millisecond), float64(r.startRSS)/(1<<20))
	cores := runtime.GOMAXPROCS(0)
	fmt.Fprintf(w, "  %-26s %10s %10s\n", "", "measured", "alone")
	line(w, "one app", r.single, cores, "")
	line(w, fmt.Sprintf("first use of %d apps", r.spread), r.cold, cores, "  (cache misses: one database read each)")
	line(w, fmt.Sprintf("spread over %d apps", r.spread), r.spreadRun, cores, ratios(pair(r.spreadRun, cores), pair(r.single, cores), "one app", rate{}, ""))
	fmt.Fprintf(w, "  RSS at the end: %.0f MB\n", float64(r.endRSS)/(1<<20))
}
