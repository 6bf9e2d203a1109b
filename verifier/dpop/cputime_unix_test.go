//go:build unix

package dpop_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, user and system:
// unlike wall time, it does not count the time spent waiting for a core
// that other processes hold, so benchmarks on a shared machine compare.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
