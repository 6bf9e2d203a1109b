package server

import (
	"strings"
	"testing"
	"time"
)

// The dpop section: each bad value is refused naming its option, and
// "auto" keeps proofs in the database exactly when instances can share it.
func TestValidateDPoP(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *DPoPConfig)
		want   string // "" accepted, else the option the error names
	}{
		{"defaults", func(*DPoPConfig) {}, ""},
		{"memory", func(c *DPoPConfig) { c.Replay = "memory" }, ""},
		{"database", func(c *DPoPConfig) { c.Replay = "database" }, ""},
		{"unknown replay", func(c *DPoPConfig) { c.Replay = "redis" }, "dpop.replay"},
		{"window zero", func(c *DPoPConfig) { c.Window = 0 }, "dpop.window"},
		{"window over 5m", func(c *DPoPConfig) { c.Window = 6 * time.Minute }, "dpop.window"},
		{"one algorithm", func(c *DPoPConfig) { c.Algorithms = []string{"ES256"} }, ""},
		{"no algorithm", func(c *DPoPConfig) { c.Algorithms = nil }, "dpop.algorithms"},
		{"a MAC", func(c *DPoPConfig) { c.Algorithms = []string{"ES256", "HS256"} }, "dpop.algorithms"},
		{"none", func(c *DPoPConfig) { c.Algorithms = []string{"none"} }, "dpop.algorithms"},
		{"twice", func(c *DPoPConfig) { c.Algorithms = []string{"ES256", "ES256"} }, "dpop.algorithms"},
		{"nonce period under 1s", func(c *DPoPConfig) { c.NoncePeriod = time.Millisecond }, "dpop.nonce_period"},
		{"nonce period over 24h", func(c *DPoPConfig) { c.NoncePeriod = 25 * time.Hour }, "dpop.nonce_period"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg.DPoP)
			err := cfg.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestReplayInDatabase(t *testing.T) {
	tests := []struct {
		replay, uri, embeddedAddr string
		want                      bool
	}{
		{"auto", "", "", false},
		{"auto", "mongodb://db.internal/", "", true},
		{"auto", "", "127.0.0.1:27017", true},
		{"memory", "mongodb://db.internal/", "", false},
		{"database", "", "", true},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		cfg.DPoP.Replay, cfg.MongoDB.URI, cfg.MongoDB.EmbeddedAddr = tc.replay, tc.uri, tc.embeddedAddr
		if got := cfg.replayInDatabase(); got != tc.want {
			t.Errorf("replay %q, uri %q, embedded_addr %q: in the database %v, want %v", tc.replay, tc.uri, tc.embeddedAddr, got, tc.want)
		}
	}
}
