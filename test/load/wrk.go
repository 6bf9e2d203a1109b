package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// wrkScript is the Lua script given to wrk: the request, and a done hook
// that prints one line the tool parses. wrk's latencies are microseconds;
// errors.status counts answers with a status above 399.
const wrkScript = `wrk.method = %s
wrk.body = %s
%s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

// luaString quotes s as a Lua long string, whose content is taken as is
// (no escapes), with a level of '=' that s does not close.
func luaString(s string) string {
	eq := ""
	for strings.Contains(s, "]"+eq+"]") {
		eq += "="
	}
	// A long string drops a first newline; a leading "\n" is kept by
	// adding one.
	if strings.HasPrefix(s, "\n") {
		s = "\n" + s
	}
	return "[" + eq + "[" + s + "]" + eq + "]"
}

// runWrk drives l in a closed loop with wrk (Debian's package), which
// sends l's first target again and again over l.conns connections from one
// thread per core. wrk is written in C and costs the shared cores less per
// request than vegeta, which matters when the server is measured against
// the signing rate of the same cores. wrk reads only status codes, so l's
// check runs on one request sent after the run.
func runWrk(l load) outcome {
	o := outcome{name: l.name, errors: map[string]int{}}
	var t vegeta.Target
	if err := l.targets(&t); err != nil {
		o.errors["no target: "+err.Error()]++
		return o
	}
	var headers strings.Builder
	for name, values := range t.Header {
		for _, v := range values {
			// The spaces matter: "[[[" would open a long string.
			fmt.Fprintf(&headers, "wrk.headers[ %s ] = %s\n", luaString(name), luaString(v))
		}
	}
	dir, err := os.MkdirTemp("", "authserver-wrk-")
	if err != nil {
		o.errors[err.Error()]++
		return o
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "request.lua")
	lua := fmt.Sprintf(wrkScript, luaString(t.Method), luaString(string(t.Body)), headers.String())
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		o.errors[err.Error()]++
		return o
	}
	seconds := max(int((l.duration+time.Second-1)/time.Second), 1)
	threads := min(runtime.GOMAXPROCS(0), l.conns)
	cmd := exec.Command(l.wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(l.conns),
		"-d", strconv.Itoa(seconds)+"s", "--timeout", "30s", "-s", script, t.URL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	if l.pid != 0 {
		o.rssReset = resetPeakRSS(l.pid)
	}
	cpu0, _ := procCPU(l.pid)
	busy0, busyErr := machineBusy()
	err = cmd.Run()
	if l.pid != 0 {
		cpu1, _ := procCPU(l.pid)
		o.serverCPU = cpu1 - cpu0
		o.peakRSS, _ = procStatus(l.pid, "VmHWM")
	}
	if cmd.ProcessState != nil {
		o.loadCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if busy1, err := machineBusy(); err == nil && busyErr == nil {
		o.otherCPU = max(busy1-busy0-o.loadCPU-o.serverCPU, 0)
	}
	if err != nil {
		o.errors[fmt.Sprintf("wrk: %v: %s", err, strings.TrimSpace(stderr.String()))]++
		return o
	}
	if err := o.parseWrk(stdout.String()); err != nil {
		o.errors[err.Error()]++
		return o
	}
	// The body check, on one request: wrk does not read bodies.
	code, body, err := sendOnce(t)
	if err == nil && l.check != nil {
		err = l.check(&vegeta.Result{Code: uint16(code), Body: body})
	}
	if err != nil {
		o.errors["sample: "+err.Error()]++
		return o
	}
	o.sample = body
	return o
}

// parseWrk reads the RESULT line of wrkScript's done hook into o.
func (o *outcome) parseWrk(out string) error {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 12 || f[0] != "RESULT" {
			continue
		}
		var n [11]int64
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return fmt.Errorf("wrk result %q: %w", line, err)
			}
			n[i] = v
		}
		requests, micros := int(n[0]), n[1]
		connect, read, write, status, timeout := int(n[2]), int(n[3]), int(n[4]), int(n[5]), int(n[6])
		o.requests = requests + connect + read + write + timeout
		o.ok = requests - status
		for name, c := range map[string]int{"status above 399": status, "connect": connect, "read": read, "write": write, "timeout": timeout} {
			if c > 0 {
				o.errors[name] += c
			}
		}
		o.elapsed = time.Duration(micros) * time.Microsecond
		if o.elapsed > 0 {
			o.perSecond = float64(o.ok) / o.elapsed.Seconds()
		}
		o.p50, o.p99 = time.Duration(n[7])*time.Microsecond, time.Duration(n[8])*time.Microsecond
		o.p999, o.max = time.Duration(n[9])*time.Microsecond, time.Duration(n[10])*time.Microsecond
		return nil
	}
	return fmt.Errorf("wrk printed no RESULT line: %q", out)
}

// sendOnce sends t with net/http and returns the status and body.
func sendOnce(t vegeta.Target) (int, []byte, error) {
	req, err := http.NewRequest(t.Method, t.URL, bytes.NewReader(t.Body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = t.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
