// Package periodic runs the background work of the domain packages
// (cache refreshes, sweeps, flushes): Every on a real-time ticker, OnClock
// when the injected clock has moved, so that a test whose clock stands
// still sees none of the latter. It holds no state of its own.
package periodic
