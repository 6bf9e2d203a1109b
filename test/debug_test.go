package test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// pprof is off by default, and when debug.pprof_addr is set it is served
// on that listener only, never on the public one.
func TestPprofListener(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	off := testserver.Start(t)
	if addr := off.Server.DebugAddr(); addr != "" {
		t.Fatalf("pprof listens on %s by default", addr)
	}
	if status, _ := get(t, off.PublicURL+"/debug/pprof/"); status != http.StatusNotFound {
		t.Fatalf("public /debug/pprof/: status %d, want 404", status)
	}

	on := testserver.Start(t, func(c *server.Config) { c.Debug.PprofAddr = "127.0.0.1:0" })
	addr := on.Server.DebugAddr()
	if addr == "" {
		t.Fatal("debug.pprof_addr set but no pprof listener")
	}
	if status, body := get(t, "http://"+addr+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: status %d, body %.80q", status, body)
	}
	if status, _ := get(t, on.PublicURL+"/debug/pprof/"); status != http.StatusNotFound {
		t.Fatalf("public /debug/pprof/ with pprof on: status %d, want 404", status)
	}
}

// debug.pprof_addr must be host:port on loopback: profiles show the
// command line, flags and all.
func TestPprofAddrValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"localhost", false},
		{":6060", false},
		{"0.0.0.0:6060", false},
		{"10.0.0.5:6060", false},
		{"[::]:6060", false},
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"localhost:6060", true},
	} {
		cfg := server.DefaultConfig()
		cfg.Debug.PprofAddr = tc.addr
		err := cfg.Validate()
		if tc.ok && err != nil {
			t.Errorf("debug.pprof_addr %q: %v", tc.addr, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "debug.pprof_addr")) {
			t.Errorf("debug.pprof_addr %q: Validate() = %v, want a debug.pprof_addr error", tc.addr, err)
		}
	}
}
