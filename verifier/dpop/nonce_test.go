package dpop_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/verifier/dpop"
)

// TestNonceSource walks a nonce through its lifetime on the injected
// clock: valid in the period it was issued and the next, refused after;
// accepted one period early, as from an instance whose clock runs ahead;
// shared by sources with the same secret and period, and by nobody else.
func TestNonceSource(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	period := 5 * time.Minute
	start := time.Unix(1_800_000_000, 0).Truncate(period)
	clk := newClock(start.Add(period - time.Second)) // the period's last second
	src, err := dpop.NewNonceSource(secret, period, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	n := src.Nonce()
	if len(n) != 43 || strings.Trim(n, base64URL) != "" {
		t.Errorf("Nonce() = %q, want 43 base64url characters", n)
	}
	if src.Nonce() != n || !src.Valid(n) {
		t.Fatal("a fresh nonce is not stable or not valid")
	}
	sameClk := newClock(clk.Now())
	twin, _ := dpop.NewNonceSource(secret, period, sameClk.Now)
	if twin.Nonce() != n || !twin.Valid(n) {
		t.Error("a source with the same secret and period disagrees")
	}
	otherSecret, _ := dpop.NewNonceSource([]byte(strings.Repeat("t", 32)), period, clk.Now)
	otherPeriod, _ := dpop.NewNonceSource(secret, time.Minute, clk.Now)
	if otherSecret.Valid(n) || otherPeriod.Valid(n) {
		t.Error("a source with another secret or period accepts the nonce")
	}

	// An instance one second behind, still in the previous period.
	behind := newClock(start.Add(-time.Second))
	lagging, _ := dpop.NewNonceSource(secret, period, behind.Now)
	if !lagging.Valid(n) {
		t.Error("an instance whose clock is one period behind refuses the nonce")
	}

	clk.Add(time.Second) // the next period: still valid, but a new nonce
	if src.Nonce() == n || !src.Valid(n) {
		t.Errorf("next period: new nonce %v, old still valid %v", src.Nonce() != n, src.Valid(n))
	}
	clk.Add(period - time.Second) // the last second of the next period
	if !src.Valid(n) {
		t.Error("refused within the next period")
	}
	clk.Add(time.Second) // two periods on
	if src.Valid(n) {
		t.Error("valid two periods after it was issued")
	}
	for _, bad := range []string{"", "!", n[:42], n + "A", strings.Repeat("A", 43)} {
		if src.Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

func TestNewNonceSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret int
		period time.Duration
		ok     bool
	}{
		{"minimal", 32, time.Second, true},
		{"short secret", 31, time.Minute, false},
		{"zero period", 32, 0, false},
		{"period over 24h", 32, 25 * time.Hour, false},
	} {
		_, err := dpop.NewNonceSource(make([]byte, tc.secret), tc.period, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	// The source keeps its own copy of the secret.
	secret := []byte(strings.Repeat("s", 32))
	src, _ := dpop.NewNonceSource(secret, time.Minute, nil)
	n := src.Nonce()
	secret[0] = 'x'
	if !src.Valid(n) {
		t.Error("changing the caller's secret slice changed the source")
	}
}

// TestNonceSourceConcurrent: many goroutines across period changes (for
// the race detector). A nonce is valid when checked unless the clock moved
// a whole period since it was issued.
func TestNonceSourceConcurrent(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Unix(1_800_000_000, 0))
	src, _ := dpop.NewNonceSource(make([]byte, 32), time.Second, clk.Now)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				before := clk.Now()
				n := src.Nonce()
				valid := src.Valid(n)
				if moved := clk.Now().Sub(before); !valid && moved < time.Second {
					t.Errorf("a nonce issued %v earlier is not valid", moved)
					return
				}
				clk.Add(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
}
