package test

import (
	"testing"

	"github.com/authserver/authserver/test/testserver"
)

// A Shutdown that follows Serve at once, before Serve has started its
// background loops, must neither race with it (the race detector, which
// CI runs over this package, saw Serve write the loops' cancel function
// while Shutdown read it) nor leave a loop running after it returns.
func TestShutdownRightAfterServe(t *testing.T) {
	t.Parallel()
	for range 5 {
		in := testserver.Start(t)
		in.Stop(t) // Serve runs in its own goroutine and may not have begun
	}
}
