package users

import (
	"context"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h := newPasswordHasher()
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(enc, "correct horse") {
		t.Fatalf("hash %q", enc)
	}
	again, _ := h.Hash(ctx, "correct horse")
	if again == enc {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		name, encoded, password string
		want                    bool
	}{
		{"right password", enc, "correct horse", true},
		{"wrong password", enc, "correct horsf", false},
		{"empty password", enc, "", false},
		{"no such user", "", "correct horse", false},
		{"not argon2id", "$2a$10$abcdefghijklmnopqrstuv", "correct horse", false},
		{"absurd memory", strings.Replace(enc, "m=19456", "m=99999999", 1), "correct horse", false},
		{"truncated", enc[:len(enc)-10], "correct horse", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.Verify(ctx, tc.encoded, tc.password)
			if err != nil || got != tc.want {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
	// A cancelled context is refused when no slot is free.
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Verify(cctx, enc, "correct horse"); err == nil {
		t.Fatal("Verify ran with every slot taken and a cancelled context")
	}
}

// BenchmarkPasswordVerify measures one argon2id check of a test-user login
// (19 MiB, t=2, p=1).
func BenchmarkPasswordVerify(b *testing.B) {
	h := newPasswordHasher()
	enc, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := h.Verify(context.Background(), enc, "correct horse"); !ok {
			b.Fatal("no match")
		}
	}
}
