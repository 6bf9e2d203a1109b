package signingkeys

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/storage"
)

var (
	t0     = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	policy = Policy{Algorithm: RS256, RotationPeriod: 30 * 24 * time.Hour, PublishAhead: 24 * time.Hour, Retention: 48 * time.Hour}
)

// sk builds a key; opts set its times.
func sk(kid, state string, opts ...func(*storage.SigningKey)) storage.SigningKey {
	k := storage.SigningKey{KID: kid, Algorithm: RS256, State: state, CreatedAt: t0, PublishedAt: t0}
	if state == storage.KeyActive {
		k.ActivatedAt = t0
	}
	for _, o := range opts {
		o(&k)
	}
	return k
}

func activated(t time.Time) func(*storage.SigningKey) {
	return func(k *storage.SigningKey) { k.ActivatedAt = t }
}
func activateAt(t time.Time) func(*storage.SigningKey) {
	return func(k *storage.SigningKey) { k.ActivateAt = t }
}
func published(t time.Time) func(*storage.SigningKey) {
	return func(k *storage.SigningKey) { k.PublishedAt = t }
}
func removeAt(t time.Time) func(*storage.SigningKey) {
	return func(k *storage.SigningKey) { k.RemoveAt = t }
}
func prior(s string) func(*storage.SigningKey) {
	return func(k *storage.SigningKey) { k.PriorState = s }
}
func alg(a string) func(*storage.SigningKey) {
	return func(k *storage.SigningKey) { k.Algorithm = a }
}

func set(keys ...storage.SigningKey) storage.KeySet {
	return storage.KeySet{ID: storage.KeySetID, Version: 7, Keys: keys}
}

func clone(ks storage.KeySet) storage.KeySet {
	ks.Keys = slices.Clone(ks.Keys)
	return ks
}

// states renders a key set as "kid=state" in order, for compact wants.
func states(ks storage.KeySet) string {
	s := ""
	for i, k := range ks.Keys {
		if i > 0 {
			s += " "
		}
		s += k.KID + "=" + k.State
	}
	return s
}

func actions(ev []Event) []string {
	var out []string
	for _, e := range ev {
		out = append(out, e.Action+":"+e.KID)
	}
	return out
}

func key(ks storage.KeySet, kid string) storage.SigningKey {
	for _, k := range ks.Keys {
		if k.KID == kid {
			return k
		}
	}
	return storage.SigningKey{}
}

func TestCheckKeySet(t *testing.T) {
	tests := []struct {
		name string
		ks   storage.KeySet
		ok   bool
	}{
		{"one active", set(sk("a", storage.KeyActive)), true},
		{"full house", set(sk("r", storage.KeyRetired), sk("a", storage.KeyActive), sk("n", storage.KeyNext), sk("i", storage.KeyInactive)), true},
		{"no key", set(), false},
		{"no active key", set(sk("r", storage.KeyRetired), sk("n", storage.KeyNext)), false},
		{"two active keys", set(sk("a", storage.KeyActive), sk("b", storage.KeyActive)), false},
		{"two next keys", set(sk("a", storage.KeyActive), sk("n", storage.KeyNext), sk("m", storage.KeyNext)), false},
		{"two inactive keys", set(sk("a", storage.KeyActive), sk("i", storage.KeyInactive), sk("j", storage.KeyInactive)), false},
		{"repeated kid", set(sk("a", storage.KeyActive), sk("a", storage.KeyRetired)), false},
		{"empty kid", set(sk("", storage.KeyActive)), false},
		{"unknown state", set(sk("a", storage.KeyActive), sk("x", "compromised")), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckKeySet(tc.ks); (err == nil) != tc.ok {
				t.Fatalf("CheckKeySet = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// The scheduler's transitions: what is due at a given time, and nothing
// before.
func TestAdvanceKeySet(t *testing.T) {
	P, H, R := policy.RotationPeriod, policy.PublishAhead, policy.Retention
	fresh := sk("f", "", alg(RS256))
	freshES := sk("f", "", alg(ES256))
	tests := []struct {
		name    string
		ks      storage.KeySet
		now     time.Time
		p       Policy
		fresh   *storage.SigningKey
		want    string   // states after
		actions []string // events, in order
		check   func(t *testing.T, ks storage.KeySet)
	}{
		{
			name: "nothing due", ks: set(sk("a", storage.KeyActive)), now: t0.Add(P - H - time.Second), fresh: &fresh,
			want: "a=active",
		},
		{
			name: "rotation due within publish-ahead publishes the next key for the end of the period",
			ks:   set(sk("a", storage.KeyActive)), now: t0.Add(P - H), fresh: &fresh,
			want: "a=active f=next", actions: []string{"signing_key.publish:f"},
			check: func(t *testing.T, ks storage.KeySet) {
				if f := key(ks, "f"); !f.ActivateAt.Equal(t0.Add(P)) || !f.PublishedAt.Equal(t0.Add(P-H)) {
					t.Fatalf("published %v activate %v, want %v and %v", f.PublishedAt, f.ActivateAt, t0.Add(P-H), t0.Add(P))
				}
			},
		},
		{
			name: "rotation due but no fresh key given changes nothing",
			ks:   set(sk("a", storage.KeyActive)), now: t0.Add(P), fresh: nil,
			want: "a=active",
		},
		{
			name: "overdue rotation (server was down) still keeps the whole overlap",
			ks:   set(sk("a", storage.KeyActive)), now: t0.Add(P + 5*24*time.Hour), fresh: &fresh,
			want: "a=active f=next", actions: []string{"signing_key.publish:f"},
			check: func(t *testing.T, ks storage.KeySet) {
				if f := key(ks, "f"); !f.ActivateAt.Equal(t0.Add(P + 5*24*time.Hour + H)) {
					t.Fatalf("activate_at %v", f.ActivateAt)
				}
			},
		},
		{
			name: "next key not yet due",
			ks:   set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, activateAt(t0.Add(P)))), now: t0.Add(P - time.Millisecond), fresh: &fresh,
			want: "a=active n=next",
		},
		{
			name: "next key due is promoted and the active key retires for the retention",
			ks:   set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, activateAt(t0.Add(P)))), now: t0.Add(P), fresh: &fresh,
			want: "a=retired n=active", actions: []string{"signing_key.retire:a", "signing_key.activate:n"},
			check: func(t *testing.T, ks storage.KeySet) {
				a, n := key(ks, "a"), key(ks, "n")
				if !a.RetiredAt.Equal(t0.Add(P)) || !a.RemoveAt.Equal(t0.Add(P+R)) || !n.ActivatedAt.Equal(t0.Add(P)) {
					t.Fatalf("retired %v remove %v activated %v", a.RetiredAt, a.RemoveAt, n.ActivatedAt)
				}
			},
		},
		{
			name: "retired key past its retention leaves, one within it stays",
			ks: set(sk("old", storage.KeyRetired, removeAt(t0)), sk("r", storage.KeyRetired, removeAt(t0.Add(time.Hour))),
				sk("a", storage.KeyActive)),
			now: t0, fresh: &fresh,
			want: "r=retired a=active", actions: []string{"signing_key.remove:old"},
		},
		{
			name: "an inactive key is never removed by the schedule",
			ks:   set(sk("i", storage.KeyInactive, removeAt(t0), prior(storage.KeyRetired)), sk("a", storage.KeyActive)),
			now:  t0.Add(time.Hour), fresh: &fresh,
			want: "i=inactive a=active",
		},
		{
			name: "an algorithm change publishes a key of the new algorithm with the full overlap",
			ks:   set(sk("a", storage.KeyActive, activated(t0))), now: t0.Add(time.Hour), p: Policy{Algorithm: ES256, RotationPeriod: P, PublishAhead: H, Retention: R},
			fresh: &freshES,
			want:  "a=active f=next", actions: []string{"signing_key.publish:f"},
			check: func(t *testing.T, ks storage.KeySet) {
				if f := key(ks, "f"); f.Algorithm != ES256 || !f.ActivateAt.Equal(t0.Add(time.Hour+H)) {
					t.Fatalf("alg %s activate_at %v", f.Algorithm, f.ActivateAt)
				}
			},
		},
		{
			name: "a pending next key of the old algorithm is not replaced",
			ks:   set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, activateAt(t0.Add(P)))), now: t0.Add(time.Hour),
			p: Policy{Algorithm: ES256, RotationPeriod: P, PublishAhead: H, Retention: R}, fresh: &freshES,
			want: "a=active n=next",
		},
		{
			name: "rotation period 0: no time-based rotation",
			ks:   set(sk("a", storage.KeyActive)), now: t0.Add(10 * P), p: Policy{Algorithm: RS256, PublishAhead: H, Retention: R}, fresh: &fresh,
			want: "a=active",
		},
		{
			name: "promotion and removal in one pass after a long outage; the new active key gets a whole period",
			ks: set(sk("r", storage.KeyRetired, removeAt(t0.Add(P))), sk("a", storage.KeyActive),
				sk("n", storage.KeyNext, activateAt(t0.Add(P)))),
			now: t0.Add(3 * P), fresh: &fresh,
			want:    "a=retired n=active",
			actions: []string{"signing_key.retire:a", "signing_key.activate:n", "signing_key.remove:r"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if p.Algorithm == "" {
				p = policy
			}
			ks := clone(tc.ks)
			ev := advanceKeySet(&ks, tc.now, p, tc.fresh)
			if got := states(ks); got != tc.want {
				t.Fatalf("states %q, want %q", got, tc.want)
			}
			if got := actions(ev); !reflect.DeepEqual(got, tc.actions) {
				t.Fatalf("events %v, want %v", got, tc.actions)
			}
			if err := CheckKeySet(ks); err != nil {
				t.Fatalf("invariant broken: %v", err)
			}
			if tc.check != nil {
				tc.check(t, ks)
			}
		})
	}
}

// refusal is what a forbidden transition must answer.
type refusal struct {
	kind authserver.ErrorKind
	code string
}

// checkRefusal asserts err is the refusal and ks equals before.
func checkRefusal(t *testing.T, err error, want refusal, before, after storage.KeySet) {
	t.Helper()
	e := authserver.AsError(err)
	if e == nil || e.Kind != want.kind || e.Code != want.code {
		t.Fatalf("error %v, want %s (kind %d)", err, want.code, want.kind)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused transition changed the key set:\nbefore %+v\nafter  %+v", before, after)
	}
}

// Every operator transition, allowed and forbidden (issue 3, items 1 and
// 5; seed 002).
func TestOperatorTransitions(t *testing.T) {
	now := t0.Add(time.Hour)
	full := set(sk("r", storage.KeyRetired, removeAt(t0.Add(48*time.Hour))), sk("a", storage.KeyActive),
		sk("n", storage.KeyNext, activateAt(t0.Add(24*time.Hour))))
	withInactive := set(sk("r", storage.KeyRetired, removeAt(t0.Add(48*time.Hour))), sk("a", storage.KeyActive),
		sk("i", storage.KeyInactive, prior(storage.KeyRetired), removeAt(t0.Add(48*time.Hour))))
	type op func(*storage.KeySet) ([]Event, error)
	discard := func(kid string) op {
		return func(ks *storage.KeySet) ([]Event, error) { return discardKey(ks, kid, now) }
	}
	reactivate := func(kid string) op {
		return func(ks *storage.KeySet) ([]Event, error) { return reactivateKey(ks, kid, now, policy) }
	}
	del := func(kid string) op {
		return func(ks *storage.KeySet) ([]Event, error) { return deleteKey(ks, kid) }
	}
	conflict := func(code string) *refusal { return &refusal{authserver.KindConflict, code} }
	notFound := &refusal{authserver.KindNotFound, "key_not_found"}
	tests := []struct {
		name   string
		ks     storage.KeySet
		op     op
		refuse *refusal
		want   string
		check  func(t *testing.T, ks storage.KeySet)
	}{
		{name: "discard a retired key", ks: full, op: discard("r"), want: "r=inactive a=active n=next",
			check: func(t *testing.T, ks storage.KeySet) {
				if r := key(ks, "r"); r.PriorState != storage.KeyRetired || !r.DiscardedAt.Equal(now) {
					t.Fatalf("prior %q discarded %v", r.PriorState, r.DiscardedAt)
				}
			}},
		{name: "discard the next key", ks: full, op: discard("n"), want: "r=retired a=active n=inactive"},
		{name: "discard the active key", ks: full, op: discard("a"), refuse: conflict("key_active")},
		{name: "discard the only key", ks: set(sk("a", storage.KeyActive)), op: discard("a"), refuse: conflict("key_active")},
		{name: "discard a second key while one is inactive", ks: withInactive, op: discard("r"), refuse: conflict("inactive_key_exists")},
		{name: "discard an inactive key again", ks: withInactive, op: discard("i"), refuse: conflict("key_inactive")},
		{name: "discard an unknown kid", ks: full, op: discard("nope"), refuse: notFound},

		{name: "reactivate a discarded retired key", ks: withInactive, op: reactivate("i"), want: "r=retired a=active i=retired",
			check: func(t *testing.T, ks storage.KeySet) {
				if i := key(ks, "i"); i.PriorState != "" || !i.DiscardedAt.IsZero() || !i.RemoveAt.Equal(t0.Add(48*time.Hour)) {
					t.Fatalf("reactivated key %+v", i)
				}
			}},
		{name: "reactivate a retired key whose retention is over",
			ks: set(sk("a", storage.KeyActive), sk("i", storage.KeyInactive, prior(storage.KeyRetired), removeAt(now))),
			op: reactivate("i"), refuse: conflict("key_expired")},
		{name: "reactivate a discarded next key gets the whole overlap again",
			ks: set(sk("a", storage.KeyActive), sk("i", storage.KeyInactive, prior(storage.KeyNext), activateAt(t0.Add(2*time.Hour)))),
			op: reactivate("i"), want: "a=active i=next",
			check: func(t *testing.T, ks storage.KeySet) {
				if i := key(ks, "i"); !i.PublishedAt.Equal(now) || !i.ActivateAt.Equal(now.Add(policy.PublishAhead)) {
					t.Fatalf("published %v activate %v", i.PublishedAt, i.ActivateAt)
				}
			}},
		{name: "reactivate a former next key while another is next",
			ks: set(sk("a", storage.KeyActive), sk("n", storage.KeyNext), sk("i", storage.KeyInactive, prior(storage.KeyNext))),
			op: reactivate("i"), refuse: conflict("next_key_exists")},
		{name: "reactivate the active key", ks: full, op: reactivate("a"), refuse: conflict("key_not_inactive")},
		{name: "reactivate a retired key", ks: full, op: reactivate("r"), refuse: conflict("key_not_inactive")},
		{name: "reactivate an unknown kid", ks: full, op: reactivate("nope"), refuse: notFound},

		{name: "delete the inactive key", ks: withInactive, op: del("i"), want: "r=retired a=active"},
		{name: "delete the active key", ks: full, op: del("a"), refuse: conflict("key_not_inactive")},
		{name: "delete a retired key", ks: full, op: del("r"), refuse: conflict("key_not_inactive")},
		{name: "delete the next key", ks: full, op: del("n"), refuse: conflict("key_not_inactive")},
		{name: "delete an unknown kid", ks: full, op: del("nope"), refuse: notFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := clone(tc.ks)
			ks := clone(tc.ks)
			ev, err := tc.op(&ks)
			if tc.refuse != nil {
				checkRefusal(t, err, *tc.refuse, before, ks)
				return
			}
			if err != nil || len(ev) == 0 {
				t.Fatalf("events %v, err %v", ev, err)
			}
			if got := states(ks); got != tc.want {
				t.Fatalf("states %q, want %q", got, tc.want)
			}
			if err := CheckKeySet(ks); err != nil {
				t.Fatalf("invariant broken: %v", err)
			}
			if !reflect.DeepEqual(tc.ks, before) {
				t.Fatal("the input's backing array was changed")
			}
			if tc.check != nil {
				tc.check(t, ks)
			}
		})
	}
}

func TestRotateKeySet(t *testing.T) {
	H, R := policy.PublishAhead, policy.Retention
	now := t0.Add(10 * 24 * time.Hour)
	fresh := sk("f", "")
	tests := []struct {
		name      string
		ks        storage.KeySet
		fresh     *storage.SigningKey
		immediate bool
		wantErr   error
		want      string
		actions   []string
		check     func(t *testing.T, ks storage.KeySet)
	}{
		{name: "scheduled with no next key publishes one for after the overlap",
			ks: set(sk("a", storage.KeyActive)), fresh: &fresh, want: "a=active f=next", actions: []string{"signing_key.publish:f"},
			check: func(t *testing.T, ks storage.KeySet) {
				if f := key(ks, "f"); !f.ActivateAt.Equal(now.Add(H)) {
					t.Fatalf("activate_at %v", f.ActivateAt)
				}
			}},
		{name: "scheduled with no next key and no fresh key asks for one",
			ks: set(sk("a", storage.KeyActive)), wantErr: errNeedFreshKey, want: "a=active"},
		{name: "scheduled brings a pending next key forward to the end of its overlap",
			ks:   set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, published(now.Add(-time.Hour)), activateAt(now.Add(20*24*time.Hour)))),
			want: "a=active n=next", actions: []string{"signing_key.reschedule:n"},
			check: func(t *testing.T, ks storage.KeySet) {
				if n := key(ks, "n"); !n.ActivateAt.Equal(now.Add(H - time.Hour)) {
					t.Fatalf("activate_at %v", n.ActivateAt)
				}
			}},
		{name: "scheduled promotes a next key published longer than the overlap ago",
			ks:   set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, published(now.Add(-H)), activateAt(now.Add(time.Hour)))),
			want: "a=retired n=active", actions: []string{"signing_key.retire:a", "signing_key.activate:n"}},
		{name: "scheduled again while a rotation is pending changes nothing",
			ks:   set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, published(now), activateAt(now.Add(H)))),
			want: "a=active n=next"},
		{name: "immediate: a fresh key signs now, the pending next key is withdrawn, the old key retires",
			ks:    set(sk("a", storage.KeyActive), sk("n", storage.KeyNext, published(now), activateAt(now.Add(H)))),
			fresh: &fresh, immediate: true, want: "a=retired f=active",
			actions: []string{"signing_key.remove:n", "signing_key.publish:f", "signing_key.retire:a", "signing_key.activate:f"},
			check: func(t *testing.T, ks storage.KeySet) {
				a, f := key(ks, "a"), key(ks, "f")
				if !f.ActivatedAt.Equal(now) || !f.PublishedAt.Equal(now) || !a.RemoveAt.Equal(now.Add(R)) {
					t.Fatalf("active %+v retired %+v", f, a)
				}
			}},
		{name: "immediate without a fresh key asks for one",
			ks: set(sk("a", storage.KeyActive)), immediate: true, wantErr: errNeedFreshKey, want: "a=active"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := clone(tc.ks)
			ks := clone(tc.ks)
			ev, err := rotateKeySet(&ks, tc.fresh, now, policy, tc.immediate)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil && !reflect.DeepEqual(before, ks) {
				t.Fatal("a refused rotation changed the key set")
			}
			if got := states(ks); got != tc.want {
				t.Fatalf("states %q, want %q", got, tc.want)
			}
			if got := actions(ev); !reflect.DeepEqual(got, tc.actions) {
				t.Fatalf("events %v, want %v", got, tc.actions)
			}
			if err := CheckKeySet(ks); err != nil {
				t.Fatalf("invariant broken: %v", err)
			}
			if tc.check != nil {
				tc.check(t, ks)
			}
		})
	}
}

// Random sequences of every transition, at random times: each either
// keeps every invariant or is refused and changes nothing.
func TestTransitionsKeepInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 200 {
		ks := set(sk("k0", storage.KeyActive))
		now := t0
		for step := range 60 {
			now = now.Add(time.Duration(rng.IntN(int(10 * 24 * time.Hour))))
			fresh := sk(fmt.Sprintf("k%d-%d", run, step+1), "", activated(time.Time{}), published(time.Time{}))
			var kid string
			if len(ks.Keys) > 0 {
				kid = ks.Keys[rng.IntN(len(ks.Keys))].KID
			}
			before := clone(ks)
			var err error
			switch rng.IntN(6) {
			case 0:
				advanceKeySet(&ks, now, policy, &fresh)
			case 1:
				_, err = rotateKeySet(&ks, &fresh, now, policy, rng.IntN(2) == 0)
			case 2:
				_, err = discardKey(&ks, kid, now)
			case 3:
				_, err = reactivateKey(&ks, kid, now, policy)
			case 4:
				_, err = deleteKey(&ks, kid)
			case 5:
				advanceKeySet(&ks, now, policy, nil)
			}
			if err != nil {
				if authserver.AsError(err) == nil {
					t.Fatalf("run %d step %d: untyped error %v", run, step, err)
				}
				if !reflect.DeepEqual(before, ks) {
					t.Fatalf("run %d step %d: refused transition changed the set", run, step)
				}
			}
			if err := CheckKeySet(ks); err != nil {
				t.Fatalf("run %d step %d: %v (%s)", run, step, err, states(ks))
			}
			for _, k := range ks.Keys {
				if k.State == storage.KeyActive && k.ActivatedAt.After(now) {
					t.Fatalf("run %d step %d: key %s active from the future", run, step, k.KID)
				}
			}
		}
	}
}

// KEK rotation re-seals every private key under the current KEK, and
// refuses, changing nothing, when a key is under a KEK it lacks.
func TestResealKeys(t *testing.T) {
	oldKEK, newKEK, lostKEK := randomKEK(t), randomKEK(t), randomKEK(t)
	oldRing, err := kek.NewKeyring(oldKEK)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := kek.NewKeyring(newKEK, oldKEK)
	if err != nil {
		t.Fatal(err)
	}
	a, r := sk("a", storage.KeyActive), sk("r", storage.KeyRetired)
	a.Private = oldRing.Seal([]byte("private a"), []byte("a"))
	r.Private = ring.Seal([]byte("private r"), []byte("r"))
	ks := set(a, r)
	ev, err := resealKeys(&ks, ring)
	if err != nil || len(ev) != 1 || ev[0].KID != "a" || ev[0].Detail["to_kek"] != ring.CurrentID() {
		t.Fatalf("events %+v err %v", ev, err)
	}
	for _, k := range ks.Keys {
		if k.Private.KEKID != ring.CurrentID() {
			t.Fatalf("key %s still under %s", k.KID, k.Private.KEKID)
		}
		if p, err := ring.Open(k.Private, []byte(k.KID)); err != nil || string(p) != "private "+k.KID {
			t.Fatalf("open %s: %q %v", k.KID, p, err)
		}
	}
	if ev, err := resealKeys(&ks, ring); err != nil || len(ev) != 0 {
		t.Fatalf("second reseal: %v %v", ev, err)
	}
	lostRing, _ := kek.NewKeyring(lostKEK)
	lost := sk("l", storage.KeyRetired)
	lost.Private = lostRing.Seal([]byte("x"), []byte("l"))
	ks = set(a, lost)
	before := clone(ks)
	_, err = resealKeys(&ks, ring)
	checkRefusal(t, err, refusal{authserver.KindConflict, "kek_unknown"}, before, ks)
}

// randomKEK returns a fresh key-encryption key.
func randomKEK(t *testing.T) []byte {
	t.Helper()
	k, err := kek.Parse(kek.New())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
