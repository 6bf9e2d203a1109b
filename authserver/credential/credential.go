package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"hash/crc32"
	"math/big"
	"strings"
)

// Credential formats (docs/credentials.md, "Two keys per app" and "Secret
// keys"). The App ID is public and only identifies an app; a secret key
// authenticates it. Secrets are 256-bit random and end in a checksum so
// that leaked-secret scanners, and our own parser, recognise one without a
// database lookup.
const (
	// EnvLive and EnvTest are the environments of an app, fixed at its
	// creation and written into its App ID and secrets.
	EnvLive = "live"
	EnvTest = "test"

	// AppIDPrefix begins every App ID: "app_live_…" or "app_test_…".
	AppIDPrefix  = "app_"
	secretPrefix = "sk_"
	// AccountKeyPrefix begins every account key, "ak_…".
	AccountKeyPrefix = "ak_"

	// secretBodyLen is the base62 length of 256 random bits.
	secretBodyLen = 43
	// checksumLen is the base62 length of a CRC-32.
	checksumLen = 6
)

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 encodes b as a big-endian number, left-padded with '0' to width.
func base62(b []byte, width int) string {
	n := new(big.Int).SetBytes(b)
	out := make([]byte, 0, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, base62Alphabet[mod.Int64()])
	}
	for len(out) < width {
		out = append(out, '0')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// RandomBase62 returns n random bytes encoded in base62 at the given width.
func RandomBase62(n, width int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	return base62(b, width)
}

// checksum is the CRC-32 of body in base62, left-padded with '0' to
// checksumLen (62^6 > 2^32, so six digits always hold it). It is computed
// on uint32s rather than through base62's big.Int because WellFormed runs
// on every client authentication.
func checksum(body string) [checksumLen]byte {
	v := crc32.ChecksumIEEE([]byte(body))
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62Alphabet[v%62]
		v /= 62
	}
	return out
}

// isBase62 reports whether c is a digit of base62Alphabet.
func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// NewAppID returns a new App ID, "app_live_" or "app_test_" followed by 128
// random bits in base62. It is the OAuth client_id (RFC 6749 §2.2).
func NewAppID(env string) string {
	return AppIDPrefix + env + "_" + RandomBase62(16, 22)
}

// NewID returns prefix followed by 96 random bits in base62 (17
// characters): the ids of secrets ("sec_"), account keys ("acck_") and
// test users ("usr_"), which identify and authorise nothing.
func NewID(prefix string) string {
	return prefix + RandomBase62(12, 17)
}

// NewSecret returns a new secret key for an app of env: "sk_live_" or
// "sk_test_", 256 random bits in base62, and a CRC-32 checksum of what
// precedes it in base62.
func NewSecret(env string) string {
	return newChecksummed(secretPrefix + env + "_")
}

// NewAccountKey returns a new account key: "ak_", 256 random bits, checksum.
func NewAccountKey() string {
	return newChecksummed(AccountKeyPrefix)
}

func newChecksummed(prefix string) string {
	body := prefix + RandomBase62(32, secretBodyLen)
	c := checksum(body)
	return body + string(c[:])
}

// WellFormed reports whether s has the given prefix, a body of the right
// length and a valid checksum. It lets the server reject a mistyped or
// forged secret without comparing it to anything.
func WellFormed(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+secretBodyLen+checksumLen {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	body := s[:len(s)-checksumLen]
	want := checksum(body)
	return subtle.ConstantTimeCompare(want[:], []byte(s[len(body):])) == 1
}

// Digest is what the store keeps of a secret: its SHA-256. A 256-bit random
// secret needs no slow password hash (docs/credentials.md, "Secret keys").
func Digest(secret string) [32]byte {
	return sha256.Sum256([]byte(secret))
}

// MaskParts returns what listings show of a secret: its prefix up to and
// including the last '_' and its last four characters.
func MaskParts(secret string) (prefix, last4 string) {
	i := strings.LastIndexByte(secret, '_')
	return secret[:i+1], secret[len(secret)-4:]
}

// Mask renders a stored prefix and last four as "sk_live_…abcd".
func Mask(prefix, last4 string) string {
	return prefix + "…" + last4
}

// SecretPrefix returns the prefix of the secrets of an app of env:
// "sk_live_" or "sk_test_".
func SecretPrefix(env string) string {
	return secretPrefix + env + "_"
}

// EnvOf returns the environment of App ID id, EnvLive or EnvTest, or ""
// when id is not shaped like an App ID.
func EnvOf(id string) string {
	switch {
	case strings.HasPrefix(id, AppIDPrefix+EnvLive+"_"):
		return EnvLive
	case strings.HasPrefix(id, AppIDPrefix+EnvTest+"_"):
		return EnvTest
	}
	return ""
}

// ConstantTimeEqual reports whether a and b are equal, in time that
// depends only on their lengths.
func ConstantTimeEqual(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// MaxAppIDLen bounds, in bytes, the client ids that are looked up: no App
// ID is longer, so a longer one is refused without a look-up.
const MaxAppIDLen = 64
