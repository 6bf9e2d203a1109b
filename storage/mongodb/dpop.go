package mongodb

import (
	"context"
	"fmt"
	"time"

	"github.com/authserver/authserver/storage"
)

// ClaimDPoPProof records p unless a record with its id and an exp after
// now exists, in which case it returns ErrDuplicate: of concurrent claims
// of one id exactly one succeeds (unique _id insert). An expired record
// left by a sweep not yet run is replaced. It is one insert when the
// proof is new, which is every time but a replay.
func (s *Store) ClaimDPoPProof(ctx context.Context, p storage.DPoPProof, now time.Time) error {
	p.ExpTTL = p.Exp
	if err := claim(ctx, s.db.Collection(colDPoPJTI), p.ID, p, now); err != nil {
		return fmt.Errorf("record dpop proof: %w", err)
	}
	return nil
}

// SweepDPoPProofs deletes the records whose exp is at or before now and
// returns how many. It is housekeeping: claims ignore expired records.
func (s *Store) SweepDPoPProofs(ctx context.Context, now time.Time) (int64, error) {
	n, err := sweepExpired(ctx, s.db.Collection(colDPoPJTI), now)
	if err != nil {
		return 0, fmt.Errorf("sweep dpop proofs: %w", err)
	}
	return n, nil
}
