package apps

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/storage"
)

// cloneApp deep-copies the secrets of a, so that a refused rule can be
// compared with the app before it.
func cloneApp(a storage.App) storage.App {
	a.Secrets = append([]storage.Secret(nil), a.Secrets...)
	return a
}

// checkInvariants, as the seeds state them: at most two live secrets, at
// most one inactive, at least one active secret without expiry.
func checkInvariants(a *storage.App, now time.Time) error {
	live, permanent, inactive := countSecrets(a, now)
	if live > 2 || inactive > 1 || permanent < 1 {
		return fmt.Errorf("live %d, permanent %d, inactive %d: %+v", live, permanent, inactive, a.Secrets)
	}
	return nil
}

// Random walks through the lifecycle rules, with time passing: every
// accepted transition keeps the invariants of seed 002 (at most two
// active, one inactive, always one active), every refused one returns a
// conflict or not-found *Error and leaves the app exactly as it was.
func TestSecretRulesKeepInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for walk := range 200 {
		now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		a := storage.App{Secrets: []storage.Secret{{ID: "s0", Status: storage.SecretActive, CreatedAt: now}}}
		next := 1
		for step := range 60 {
			if rng.IntN(4) == 0 {
				now = now.Add(time.Duration(rng.IntN(48)) * time.Hour)
			}
			target := fmt.Sprintf("s%d", rng.IntN(next+1)) // sometimes unknown
			before := cloneApp(a)
			pruneExpired(&a, now)
			pruned := cloneApp(a)
			var err error
			op := rng.IntN(6)
			newSec := storage.Secret{ID: fmt.Sprintf("s%d", next), Status: storage.SecretActive, CreatedAt: now}
			switch op {
			case 0:
				err = ruleCreateSecret(&a, newSec, now)
			case 1:
				if rng.IntN(2) == 0 {
					target = ""
				}
				_, err = ruleRotateSecret(&a, target, newSec, time.Duration(rng.IntN(3))*24*time.Hour, now)
			case 2:
				err = ruleDiscardSecret(&a, target, now)
			case 3:
				err = ruleReactivateSecret(&a, target, now)
			case 4:
				err = ruleDeleteSecret(&a, target, target)
			case 5:
				err = ruleDeleteSecret(&a, target, "")
			}
			if err != nil {
				e := authserver.AsError(err)
				if e == nil || (e.Kind != authserver.KindConflict && e.Kind != authserver.KindNotFound && e.Kind != authserver.KindInvalid) {
					t.Fatalf("walk %d step %d op %d: error %v is not a domain refusal", walk, step, op, err)
				}
				if !reflect.DeepEqual(a, pruned) {
					t.Fatalf("walk %d step %d op %d: refused (%v) but changed the app:\nbefore %+v\nafter  %+v", walk, step, op, err, pruned.Secrets, a.Secrets)
				}
				a = before // the store writes nothing on a refusal, not even the pruning
				continue
			}
			if op <= 1 {
				next++
			}
			if err := checkInvariants(&a, now); err != nil {
				t.Fatalf("walk %d step %d op %d broke an invariant: %v", walk, step, op, err)
			}
		}
	}
}

// Expired secrets stay listed for expiredRetention (every token they
// minted has expired by then), then the next write drops them.
func TestPruneExpired(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := storage.App{Secrets: []storage.Secret{
		{ID: "kept", Status: storage.SecretActive},
		{ID: "just expired", Status: storage.SecretActive, ExpiresAt: now.Add(-expiredRetention + time.Second)},
		{ID: "long expired", Status: storage.SecretActive, ExpiresAt: now.Add(-expiredRetention)},
		{ID: "discarded long ago", Status: storage.SecretInactive, ExpiresAt: now.Add(-48 * time.Hour)},
	}}
	pruneExpired(&a, now)
	var ids []string
	for _, s := range a.Secrets {
		ids = append(ids, s.ID)
	}
	if want := []string{"kept", "just expired", "discarded long ago"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("kept %v, want %v", ids, want)
	}
}
