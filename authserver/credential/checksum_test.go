package credential

import (
	"hash/crc32"
	"strings"
	"testing"
)

// checksum's uint32 arithmetic gives exactly the big.Int base62 of the
// CRC-32 that secrets were issued with, so every secret issued before stays
// well-formed.
func TestChecksumMatchesBase62(t *testing.T) {
	bodies := []string{"", "sk_live_", "ak_0", strings.Repeat("z", 43)}
	for range 2000 {
		bodies = append(bodies, SecretPrefix(EnvTest)+RandomBase62(32, secretBodyLen))
	}
	for _, body := range bodies {
		v := crc32.ChecksumIEEE([]byte(body))
		want := base62([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}, checksumLen)
		if got := checksum(body); string(got[:]) != want {
			t.Fatalf("checksum(%q) = %q, want %q", body, got, want)
		}
	}
}

// BenchmarkWellFormed is the format check of every client authentication.
func BenchmarkWellFormed(b *testing.B) {
	secret := NewSecret(EnvLive)
	b.ReportAllocs()
	for b.Loop() {
		if !WellFormed(secret, "sk_live_") {
			b.Fatal("not well-formed")
		}
	}
}
