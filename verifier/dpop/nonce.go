package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// Bounds of NonceSource's parameters.
const (
	minNonceSecret = 32
	minNoncePeriod = time.Second
	maxNoncePeriod = 24 * time.Hour
)

// NonceSource issues and checks server nonces for DPoP proofs (RFC 9449
// §8 at a token endpoint, §9 at a resource) without storing them: a nonce
// is base64url(HMAC-SHA-256(secret, slot)), where slot numbers the period
// of the clock it was issued in. Every instance given the same secret and
// period issues the same nonce in the same period and accepts the others',
// with no database. A nonce stays valid for the rest of its period and the
// whole next one (at least one period, at most two), and a nonce of the
// period after the current one is accepted too, so instances whose clocks
// disagree by less than a period still accept each other's nonces. Safe
// for concurrent use.
type NonceSource struct {
	mac    []byte
	period time.Duration
	now    func() time.Time
	// cached holds the nonces of the slots around the last one asked for:
	// they change once a period.
	cached atomic.Pointer[nonceSlots]
}

type nonceSlots struct {
	slot int64
	// prev, cur, next are the raw MACs of slot-1, slot, slot+1.
	prev, cur, next []byte
	curText         string
}

// NewNonceSource returns a NonceSource. secret is at least 32 random bytes
// shared by every instance that must accept the others' nonces, and used
// for nothing else (a token endpoint and a resource should have different
// secrets, so that one's nonces are not the other's). period is between 1s
// and 24h; a few minutes is usual. now is the clock; nil means time.Now.
func NewNonceSource(secret []byte, period time.Duration, now func() time.Time) (*NonceSource, error) {
	if len(secret) < minNonceSecret {
		return nil, errors.New("dpop: nonce secret must be at least 32 bytes")
	}
	if period < minNoncePeriod || period > maxNoncePeriod {
		return nil, errors.New("dpop: nonce period must be between 1s and 24h")
	}
	if now == nil {
		now = time.Now
	}
	return &NonceSource{mac: append([]byte(nil), secret...), period: period, now: now}, nil
}

// Nonce returns the nonce of the current period, 43 base64url characters:
// the value of the DPoP-Nonce response header (RFC 9449 §8.1).
func (s *NonceSource) Nonce() string { return s.slots().curText }

// Valid reports whether nonce was issued by a source with the same secret
// and period in the previous, current or next period. It compares in
// constant time.
func (s *NonceSource) Valid(nonce string) bool {
	raw, err := b64.DecodeString(nonce)
	if err != nil || len(raw) != sha256.Size {
		return false
	}
	sl := s.slots()
	ok := subtle.ConstantTimeCompare(raw, sl.prev) | subtle.ConstantTimeCompare(raw, sl.cur) |
		subtle.ConstantTimeCompare(raw, sl.next)
	return ok == 1
}

func (s *NonceSource) slots() *nonceSlots {
	n := s.now().UnixNano()
	p := int64(s.period)
	slot := n / p
	if n < 0 && n%p != 0 {
		slot--
	}
	if c := s.cached.Load(); c != nil && c.slot == slot {
		return c
	}
	c := &nonceSlots{slot: slot, prev: s.sum(slot - 1), cur: s.sum(slot), next: s.sum(slot + 1)}
	c.curText = b64.EncodeToString(c.cur)
	s.cached.Store(c)
	return c
}

// sum is the MAC of one slot, its input prefixed with a label so that the
// secret, if reused elsewhere by mistake, yields nothing usable there.
func (s *NonceSource) sum(slot int64) []byte {
	h := hmac.New(sha256.New, s.mac)
	h.Write([]byte("dpop-nonce-v1\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot))
	h.Write(b[:])
	return h.Sum(nil)
}
