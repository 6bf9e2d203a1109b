package mongodb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// BenchmarkAssertionJTI measures the two database steps of RFC 7523 replay
// protection on the embedded FerretDB: the look-up of a jti among a few
// hundred records and the first-use-wins insert.
func BenchmarkAssertionJTI(b *testing.B) {
	s, _ := storagetest.Embedded(b)
	ctx := context.Background()
	now := time.Now()
	for i := range 300 {
		_ = s.ClaimAssertionJTI(ctx, storage.AssertionJTI{ID: fmt.Sprintf("pre%d", i), Exp: now.Add(time.Hour)}, now)
	}
	b.Run("seen", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.AssertionJTISeen(ctx, "pre7", now); err != nil {
				b.Fatal(err)
			}
		}
	})
	i := 0
	b.Run("claim", func(b *testing.B) {
		for b.Loop() {
			i++
			if err := s.ClaimAssertionJTI(ctx, storage.AssertionJTI{ID: fmt.Sprintf("new%d", i), Exp: now.Add(time.Hour)}, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
