package server

import (
	"strings"
	"testing"
)

// The embedded database's TCP listener is an opt-in for a second process
// on the same host: it has no authentication, so any address other than
// a loopback one is refused, with an error that says why.
func TestValidateEmbeddedAddr(t *testing.T) {
	tests := []struct {
		name string
		addr string
		ok   bool
	}{
		{"off (the default)", "", true},
		{"IPv4 loopback", "127.0.0.1:27017", true},
		{"IPv4 loopback, any port", "127.0.0.1:0", true},
		{"other 127/8 address", "127.0.0.2:27017", true},
		{"IPv6 loopback", "[::1]:27017", true},
		{"localhost", "localhost:27017", true},
		{"every interface", ":27017", false},
		{"every IPv4 interface", "0.0.0.0:27017", false},
		{"every IPv6 interface", "[::]:27017", false},
		{"private address", "10.0.0.5:27017", false},
		{"host name", "db.internal:27017", false},
		{"IPv4-mapped IPv6 of a private address", "[::ffff:10.0.0.5]:27017", false},
		{"no port", "127.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MongoDB.EmbeddedAddr = tc.addr
			err := cfg.Validate()
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "mongodb.embedded_addr")) {
				t.Fatalf("got %v, want an error about mongodb.embedded_addr", err)
			}
		})
	}
}

func TestValidateMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"", true},
		{"127.0.0.1:9090", true},
		{":9090", true},
		{"9090", false},
	} {
		cfg := DefaultConfig()
		cfg.Metrics.Addr = tc.addr
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("metrics.addr %q: %v", tc.addr, err)
		}
	}
}
