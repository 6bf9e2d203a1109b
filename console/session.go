package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/authserver/authserver/authserver"
)

// session is one signed-in operator. It holds the account key's id and
// role, never the key itself: the key is checked once, at sign-in.
type session struct {
	keyID string
	role  string
	// csrf is the per-session token every form repeats (32 random bytes,
	// base64url).
	csrf    string
	created time.Time
	seen    time.Time
	// flash is a one-time notice for the next page (never a secret).
	flash *flash
}

// flash is a notice shown once, on the page after a redirect. Kind is
// "ok" or "error".
type flash struct {
	Kind string
	Text string
}

// sessionStore keeps sessions in memory, keyed by the SHA-256 of the
// session id so that the ids themselves are never kept. A restart signs
// everyone out, and with several instances behind one address the load
// balancer must keep an operator on one instance. It is bounded: when
// full, expired sessions go first, then the least recently used.
type sessionStore struct {
	mu       sync.Mutex
	byHash   map[[32]byte]*session
	idle     time.Duration
	lifetime time.Duration
	max      int
	now      func() time.Time
}

func newSessionStore(idle, lifetime time.Duration, max int, now func() time.Time) *sessionStore {
	return &sessionStore{byHash: map[[32]byte]*session{}, idle: idle, lifetime: lifetime, max: max, now: now}
}

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashID(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// expired reports whether s has been idle too long or lived too long at now.
func (st *sessionStore) expired(s *session, now time.Time) bool {
	return !now.Before(s.seen.Add(st.idle)) || !now.Before(s.created.Add(st.lifetime))
}

// create starts a session for actor and returns its id, the cookie value.
// A fresh id on every sign-in: a session id planted before sign-in is
// never promoted.
func (st *sessionStore) create(actor authserver.Actor) (string, session) {
	id := randomToken()
	now := st.now()
	s := &session{keyID: actor.ID, role: actor.Role, csrf: randomToken(), created: now, seen: now}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.byHash) >= st.max {
		st.evictLocked(now)
	}
	st.byHash[hashID(id)] = s
	return id, *s
}

// evictLocked drops expired sessions, and the least recently used one if
// none had expired.
func (st *sessionStore) evictLocked(now time.Time) {
	var oldest [32]byte
	var oldestSeen time.Time
	dropped := false
	for h, s := range st.byHash {
		if st.expired(s, now) {
			delete(st.byHash, h)
			dropped = true
			continue
		}
		if oldestSeen.IsZero() || s.seen.Before(oldestSeen) {
			oldest, oldestSeen = h, s.seen
		}
	}
	if !dropped && !oldestSeen.IsZero() {
		delete(st.byHash, oldest)
	}
}

// get returns a copy of session id and restarts its idle timer; an
// expired session is removed and reported as absent.
func (st *sessionStore) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	h := hashID(id)
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byHash[h]
	if !ok {
		return session{}, false
	}
	if st.expired(s, now) {
		delete(st.byHash, h)
		return session{}, false
	}
	s.seen = now
	return *s, true
}

// delete ends session id (sign-out, or its key is gone).
func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	delete(st.byHash, hashID(id))
	st.mu.Unlock()
}

// setRole follows a change of the key's role.
func (st *sessionStore) setRole(id, role string) {
	st.mu.Lock()
	if s, ok := st.byHash[hashID(id)]; ok {
		s.role = role
	}
	st.mu.Unlock()
}

// setFlash leaves a notice for the next page of session id.
func (st *sessionStore) setFlash(id string, f flash) {
	st.mu.Lock()
	if s, ok := st.byHash[hashID(id)]; ok {
		s.flash = &f
	}
	st.mu.Unlock()
}

// takeFlash returns and clears the notice of session id.
func (st *sessionStore) takeFlash(id string) *flash {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byHash[hashID(id)]
	if !ok {
		return nil
	}
	f := s.flash
	s.flash = nil
	return f
}

// len is how many sessions are held, expired ones included until evicted.
func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byHash)
}

// tokenEqual compares two CSRF tokens in constant time; an empty token
// never matches.
func tokenEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
