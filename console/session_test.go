package console

import (
	"sync"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
)

// fakeClock is a settable clock for session expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSessionExpiry(t *testing.T) {
	const idle, lifetime = 10 * time.Minute, time.Hour
	cases := []struct {
		name string
		// steps are the pauses between requests after sign-in; alive is
		// whether the session answers after each.
		steps []time.Duration
		alive []bool
	}{
		{"fresh", []time.Duration{0}, []bool{true}},
		{"just under idle", []time.Duration{idle - time.Nanosecond}, []bool{true}},
		{"idle reached", []time.Duration{idle}, []bool{false}},
		{"use restarts the idle timer", []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, []bool{true, true, true}},
		{"expired stays expired", []time.Duration{idle, 0}, []bool{false, false}},
		{"lifetime ends an active session", []time.Duration{
			9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 6 * time.Minute,
		}, []bool{true, true, true, true, true, true, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			st := newSessionStore(idle, lifetime, 100, clock.now)
			id, s := st.create(authserver.Actor{ID: "acck_1", Role: accounts.RoleAdmin})
			if s.keyID != "acck_1" || s.role != accounts.RoleAdmin || len(s.csrf) != 43 || len(id) != 43 || id == s.csrf {
				t.Fatalf("new session %+v, id of %d characters", s, len(id))
			}
			for i, d := range tc.steps {
				clock.advance(d)
				if _, ok := st.get(id); ok != tc.alive[i] {
					t.Fatalf("step %d (+%v): alive %v, want %v", i, d, ok, tc.alive[i])
				}
			}
		})
	}
}

func TestSessionStoreKeepsNoIDAndForgets(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	st := newSessionStore(time.Hour, 2*time.Hour, 100, clock.now)
	id, s := st.create(authserver.Actor{ID: "acck_1", Role: accounts.RoleViewer})
	for h := range st.byHash {
		if string(h[:]) == id {
			t.Fatal("the session id itself is a key of the store")
		}
	}
	if _, ok := st.get(""); ok {
		t.Fatal("the empty id finds a session")
	}
	if _, ok := st.get(id + "x"); ok {
		t.Fatal("another id finds the session")
	}
	st.setFlash(id, flash{Kind: "ok", Text: "done"})
	if f := st.takeFlash(id); f == nil || f.Text != "done" {
		t.Fatalf("flash %v", f)
	}
	if f := st.takeFlash(id); f != nil {
		t.Fatal("a flash shows twice")
	}
	st.setRole(id, accounts.RoleAdmin)
	if got, _ := st.get(id); got.role != accounts.RoleAdmin || got.csrf != s.csrf {
		t.Fatalf("after setRole: %+v", got)
	}
	st.delete(id)
	if _, ok := st.get(id); ok || st.len() != 0 {
		t.Fatal("a deleted session answers")
	}
}

func TestSessionStoreIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	st := newSessionStore(10*time.Minute, time.Hour, 3, clock.now)
	a, _ := st.create(authserver.Actor{ID: "a"})
	clock.advance(time.Minute)
	b, _ := st.create(authserver.Actor{ID: "b"})
	clock.advance(time.Minute)
	c, _ := st.create(authserver.Actor{ID: "c"})
	clock.advance(time.Minute)
	st.get(a) // a is now the most recently used
	d, _ := st.create(authserver.Actor{ID: "d"})
	if st.len() != 3 {
		t.Fatalf("%d sessions kept, want 3", st.len())
	}
	if _, ok := st.get(b); ok {
		t.Fatal("the least recently used session survived eviction")
	}
	for _, id := range []string{a, c, d} {
		if _, ok := st.get(id); !ok {
			t.Fatal("a recently used session was evicted")
		}
	}
	// Expired sessions go first, and all of them.
	clock.advance(9 * time.Minute)
	st.get(d)
	clock.advance(2 * time.Minute) // a and c are idle 11 min, d 2 min
	e, _ := st.create(authserver.Actor{ID: "e"})
	if st.len() != 2 {
		t.Fatalf("%d sessions after evicting the expired ones, want 2", st.len())
	}
	for _, id := range []string{d, e} {
		if _, ok := st.get(id); !ok {
			t.Fatal("a live session was evicted while expired ones were held")
		}
	}
}

func TestTokenEqual(t *testing.T) {
	cases := []struct {
		name, got, want string
		ok              bool
	}{
		{"equal", "abc", "abc", true},
		{"different", "abc", "abd", false},
		{"prefix", "ab", "abc", false},
		{"both empty", "", "", false},
		{"empty given", "", "abc", false},
		{"empty expected", "abc", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokenEqual(tc.got, tc.want); got != tc.ok {
				t.Fatalf("tokenEqual(%q, %q) = %v", tc.got, tc.want, got)
			}
		})
	}
}
