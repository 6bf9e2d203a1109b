package dpop

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// ReplayCache remembers accepted proofs so that each is accepted once
// (RFC 9449 §11.1). The verifier is its only caller: it consumes the
// interface, and the server supplies the implementation that fits its
// deployment (MemoryReplayCache for one instance, a shared store for
// several).
type ReplayCache interface {
	// Seen records key until expires and reports whether key was already
	// recorded and not yet expired, in one atomic step: of two concurrent
	// calls with the same key, exactly one returns false. key is 43
	// base64url characters (see Verify); expires is at most twice the
	// verifier's window ahead. An implementation may keep a record longer
	// than expires, never shorter. A database does it with a unique-key
	// insert: insert {_id: key, expires_at: expires}, a duplicate-key error
	// means true, and a TTL index on expires_at sweeps. An error means the
	// question could not be answered; Verify then refuses the proof with
	// that error (not an *Error), for the caller to answer 503.
	Seen(ctx context.Context, key string, expires time.Time) (bool, error)
}

// DefaultReplayCacheEntries is MemoryReplayCache's bound when none is
// given: about 85 MB when full (measured). A record lives until the
// proof's iat plus the window, so with a 60 s window it holds about 17,000
// proofs a second (8,000 if every client's clock ran a minute ahead).
const DefaultReplayCacheEntries = 1 << 20

// MemoryReplayCache is a ReplayCache in one process's memory, bounded in
// size and safe for concurrent use. Records are dropped once expired.
// When it is full, the record that expires soonest makes room, and
// Evicted counts it: the protection then shrinks to proofs younger than
// the oldest record kept, rather than refusing every new proof, which
// would let anyone who can send valid proofs stop everyone else's.
type MemoryReplayCache struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	byKey   map[recordID]int64 // record → expiry, Unix nanoseconds
	byTime  expiryHeap
	evicted uint64
}

// recordID is what the cache keeps of a key: the first 128 bits of its
// SHA-256, a third of the memory of the key itself. Two keys collide by
// chance with probability about n²/2¹²⁹ for n records: never, in practice.
type recordID [16]byte

func idOf(key string) recordID {
	sum := sha256.Sum256([]byte(key))
	return recordID(sum[:16])
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// NewMemoryReplayCache returns a MemoryReplayCache that holds at most
// maxEntries records (DefaultReplayCacheEntries if maxEntries <= 0). now is
// the clock that decides expiry, the verifier's; nil means time.Now.
func NewMemoryReplayCache(maxEntries int, now func() time.Time) *MemoryReplayCache {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayCacheEntries
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{now: now, max: maxEntries, byKey: make(map[recordID]int64)}
}

// Seen records key until expires (inclusive) and reports whether it was
// already recorded and not expired. It never fails.
func (c *MemoryReplayCache) Seen(_ context.Context, key string, expires time.Time) (bool, error) {
	now := c.now().UnixNano()
	exp := expires.UnixNano()
	id := idOf(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.byTime) > 0 && c.byTime[0].expires < now {
		c.pop()
	}
	if _, ok := c.byKey[id]; ok {
		return true, nil
	}
	if exp < now {
		return false, nil
	}
	c.byKey[id] = exp
	heap.Push(&c.byTime, expiryEntry{id: id, expires: exp})
	if len(c.byKey) > c.max {
		c.pop()
		c.evicted++
	}
	return false, nil
}

// pop drops the record that expires first.
func (c *MemoryReplayCache) pop() {
	e := heap.Pop(&c.byTime).(expiryEntry)
	delete(c.byKey, e.id)
}

// Len returns the number of records held, expired ones not yet dropped
// included.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

// Evicted returns how many unexpired records were dropped to stay within
// the bound since the cache was made: a monotonic counter for metrics.
// Anything but zero means the bound is too small for the traffic.
func (c *MemoryReplayCache) Evicted() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evicted
}

type expiryEntry struct {
	id      recordID
	expires int64
}

// expiryHeap is a min-heap of records by expiry (container/heap).
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
