package main

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// load is one load-generator run: how to pace it and what to send.
type load struct {
	name string
	// conns is the number of connections, and in a closed loop also the
	// number of requests in flight.
	conns int
	// rate is requests per second for an open loop; 0 is a closed loop
	// (each connection sends its next request when the last one answered).
	rate     int
	duration time.Duration
	// targets are the requests; a targeter that runs out ends the run.
	targets vegeta.Targeter
	// check tells a good answer from a bad one beyond the status code.
	check func(*vegeta.Result) error
	// pid is the server process whose CPU time and peak RSS are reported
	// (0: none).
	pid int
	// wrk is the path of the wrk binary: when set, a closed loop runs
	// with wrk on the first target (runWrk) instead of vegeta.
	wrk string
}

// outcome is what a run measured.
type outcome struct {
	name      string
	requests  int
	ok        int
	errors    map[string]int
	elapsed   time.Duration
	perSecond float64 // good answers per second
	p50, p99  time.Duration
	p999, max time.Duration
	// serverCPU and loadCPU are the CPU time the server and the load tool
	// used during the run; peakRSS the server's peak resident set.
	serverCPU time.Duration
	loadCPU   time.Duration
	// otherCPU is what every other process of the machine used meanwhile
	// (other users of a shared machine); 0 when unknown.
	otherCPU time.Duration
	peakRSS  uint64
	rssReset bool
	sample   []byte // one good response body
}

// run drives l with vegeta, or a closed loop with wrk when l.wrk is set,
// and measures it.
func run(l load) outcome {
	if l.wrk != "" && l.rate == 0 {
		return runWrk(l)
	}
	opts := []func(*vegeta.Attacker){
		vegeta.KeepAlive(true),
		vegeta.Connections(l.conns), vegeta.MaxConnections(l.conns),
		vegeta.Timeout(30 * time.Second),
		vegeta.Redirects(vegeta.NoFollow),
	}
	pacer := vegeta.Rate{Freq: l.rate, Per: time.Second}
	if l.rate == 0 {
		// Closed loop: exactly conns workers, each waiting for its answer.
		opts = append(opts, vegeta.Workers(uint64(l.conns)), vegeta.MaxWorkers(uint64(l.conns)))
	} else {
		// Open loop: requests leave on schedule; vegeta adds workers (up
		// to conns connections) when answers are late.
		opts = append(opts, vegeta.Workers(uint64(min(l.conns, 16))))
	}
	attacker := vegeta.NewAttacker(opts...)
	o := outcome{name: l.name, errors: map[string]int{}}
	if l.pid != 0 {
		o.rssReset = resetPeakRSS(l.pid)
	}
	cpu0, _ := procCPU(l.pid)
	self0 := selfCPU()
	busy0, busyErr := machineBusy()
	latencies := make([]time.Duration, 0, 1<<16)
	var first, last time.Time
	for r := range attacker.Attack(l.targets, pacer, l.duration, l.name) {
		if r.Code == 0 && r.Error == vegeta.ErrNoTargets.Error() {
			continue // the targeter ran out: not a request
		}
		o.requests++
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.End(); end.After(last) {
			last = end
		}
		latencies = append(latencies, r.Latency)
		var err error
		switch {
		case r.Error != "" && r.Code == 0:
			o.errors[r.Error]++
			continue
		case r.Code != http.StatusOK && r.Code != http.StatusNotModified:
			err = fmt.Errorf("status %d", r.Code)
		case l.check != nil:
			err = l.check(r)
		}
		if err != nil {
			o.errors[err.Error()]++
			continue
		}
		o.ok++
		if o.sample == nil {
			o.sample = r.Body
		}
	}
	if l.pid != 0 {
		cpu1, _ := procCPU(l.pid)
		o.serverCPU = cpu1 - cpu0
		o.peakRSS, _ = procStatus(l.pid, "VmHWM")
	}
	o.loadCPU = selfCPU() - self0
	if busy1, err := machineBusy(); err == nil && busyErr == nil {
		o.otherCPU = max(busy1-busy0-o.loadCPU-o.serverCPU, 0)
	}
	o.elapsed = last.Sub(first)
	if o.elapsed > 0 {
		o.perSecond = float64(o.ok) / o.elapsed.Seconds()
	}
	slices.Sort(latencies)
	o.p50, o.p99, o.p999 = quantile(latencies, 0.50), quantile(latencies, 0.99), quantile(latencies, 0.999)
	if n := len(latencies); n > 0 {
		o.max = latencies[n-1]
	}
	return o
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// errorCount is the number of bad answers and transport errors.
func (o outcome) errorCount() int { return o.requests - o.ok }

// cpuPerRequest is the server CPU time per good answer.
func (o outcome) cpuPerRequest() time.Duration {
	if o.ok == 0 {
		return 0
	}
	return o.serverCPU / time.Duration(o.ok)
}

// alone is the rate the server and the load generator would reach with
// every core to themselves at the CPU cost per request this run measured:
// cores / (server + generator CPU per request). On a shared machine it
// corrects for the CPU other processes took; it assumes the CPU cost per
// request does not depend on how busy the machine is.
func (o outcome) alone(cores int) float64 {
	perReq := (o.serverCPU + o.loadCPU).Seconds() / float64(max(o.ok, 1))
	if perReq <= 0 || o.serverCPU == 0 {
		return 0
	}
	return float64(cores) / perReq
}

// loadPerRequest is the load generator's CPU time per good answer.
func (o outcome) loadPerRequest() time.Duration {
	if o.ok == 0 {
		return 0
	}
	return o.loadCPU / time.Duration(o.ok)
}

// cores is how many cores' worth of CPU d is over the run.
func (o outcome) cores(d time.Duration) float64 {
	if o.elapsed <= 0 {
		return 0
	}
	return d.Seconds() / o.elapsed.Seconds()
}

// roundRobin returns a targeter that cycles through targets; limit > 0
// ends it after that many requests.
func roundRobin(targets []vegeta.Target, limit int) vegeta.Targeter {
	var next atomic.Int64
	return func(t *vegeta.Target) error {
		i := int(next.Add(1) - 1)
		if limit > 0 && i >= limit {
			return vegeta.ErrNoTargets
		}
		*t = targets[i%len(targets)]
		return nil
	}
}

// tokenTarget is a client credentials token request with HTTP Basic
// client authentication (RFC 6749 §2.3.1, §4.4.2).
func tokenTarget(url string, c client) vegeta.Target {
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.SetBasicAuth(c.ID, c.Secret)
	body := []byte("grant_type=client_credentials&scope=read")
	return vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{
		"Authorization": req.Header["Authorization"],
		"Content-Type":  {"application/x-www-form-urlencoded"},
	}}
}
