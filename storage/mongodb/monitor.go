package mongodb

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
)

// Monitor counts the commands a Store sends, by command name. Tests use it
// to prove that a code path writes nothing; the metrics use it to count
// store errors.
type Monitor struct {
	mu       sync.Mutex
	started  map[string]int
	failures int
	// heartbeatFailures counts failed server checks: while the database
	// is unreachable commands often fail before they are sent, so
	// failures alone would under-count an outage.
	heartbeatFailures int
}

// NewMonitor returns an empty Monitor.
func NewMonitor() *Monitor {
	return &Monitor{started: map[string]int{}}
}

func (m *Monitor) commandMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			m.mu.Lock()
			m.started[e.CommandName]++
			m.mu.Unlock()
		},
		Failed: func(_ context.Context, _ *event.CommandFailedEvent) {
			m.mu.Lock()
			m.failures++
			m.mu.Unlock()
		},
	}
}

// Counts returns a copy of the number of commands started, by name
// ("insert", "update", "find", ...).
func (m *Monitor) Counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.started))
	for k, v := range m.started {
		out[k] = v
	}
	return out
}

// Writes returns how many write commands were started.
func (m *Monitor) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, name := range []string{"insert", "update", "delete", "findAndModify", "bulkWrite", "createIndexes", "drop"} {
		n += m.started[name]
	}
	return n
}

// Failures returns how many commands failed.
func (m *Monitor) Failures() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failures
}

func (m *Monitor) serverMonitor() *event.ServerMonitor {
	return &event.ServerMonitor{
		ServerHeartbeatFailed: func(*event.ServerHeartbeatFailedEvent) {
			m.mu.Lock()
			m.heartbeatFailures++
			m.mu.Unlock()
		},
	}
}

// HeartbeatFailures returns how many of the driver's periodic server
// checks failed: it grows while the database is unreachable.
func (m *Monitor) HeartbeatFailures() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heartbeatFailures
}
