package server

import "testing"

// The console's cookie is Secure unless the admin listener is on
// loopback (plain http there is not observable off the machine).
func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8081", true},
		{"127.0.0.2:8081", true},
		{"[::1]:8081", true},
		{"localhost:8081", true},
		{":8081", false},
		{"0.0.0.0:8081", false},
		{"[::]:8081", false},
		{"10.0.0.5:8081", false},
		{"admin.internal:8081", false},
	} {
		if got := loopback(tc.addr); got != tc.want {
			t.Errorf("loopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
