package users

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for test-user passwords (RFC 9106 §4; OWASP's
// minimum of 19 MiB, 2 passes, 1 lane). Test users have low-entropy
// passwords, unlike secrets, so they get a slow, memory-hard hash.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
	// argonMaxMemoryKiB bounds the parameters accepted from a stored hash,
	// so that a tampered record cannot make a login allocate gigabytes.
	argonMaxMemoryKiB = 256 * 1024
)

// passwordHasher hashes and checks passwords with argon2id, at most
// runtime.NumCPU() at a time: each hash takes 19 MiB and tens of
// milliseconds of one core, and unbounded concurrency would let a burst of
// logins exhaust memory.
type passwordHasher struct {
	slots chan struct{}
	// dummy is the hash compared against when the user does not exist, so
	// that an unknown username costs the same as a wrong password.
	dummy string
	// computed counts the hashes computed for Hash and Verify.
	computed atomic.Uint64
}

func newPasswordHasher() *passwordHasher {
	h := &passwordHasher{slots: make(chan struct{}, runtime.NumCPU())}
	var pw [16]byte
	if _, err := rand.Read(pw[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	h.dummy = h.hashNow(string(pw[:]))
	return h
}

// acquire takes a hashing slot or fails when ctx ends first.
func (h *passwordHasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *passwordHasher) release() { <-h.slots }

// Hash returns the argon2id hash of password in PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (base64, no padding).
func (h *passwordHasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	h.computed.Add(1)
	return h.hashNow(password), nil
}

func (h *passwordHasher) hashNow(password string) string {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether password matches encoded, comparing in constant
// time. An empty encoded (no such user) is checked against a dummy hash
// and is always false. It fails only when ctx ends before a slot frees.
func (h *passwordHasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	p, err := parseArgon2id(encoded)
	if err != nil {
		return false, nil
	}
	h.computed.Add(1)
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1 && known, nil
}

type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseArgon2id(encoded string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, errors.New("not an argon2id v19 hash")
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil {
		return p, fmt.Errorf("argon2id parameters: %w", err)
	}
	if p.memory < 8 || p.memory > argonMaxMemoryKiB || p.time < 1 || p.time > 10 || threads < 1 || threads > 16 {
		return p, errors.New("argon2id parameters out of range")
	}
	p.threads = uint8(threads)
	var err1, err2 error
	p.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	p.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(p.salt) < 8 || len(p.key) < 16 || len(p.key) > 64 {
		return p, errors.New("argon2id salt or hash malformed")
	}
	return p, nil
}
