package kek

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/authserver/authserver/storage"
)

// Size is the size of a key-encryption key: 32 bytes, for AES-256-GCM.
const Size = 32

// Keyring seals values (private signing keys, per-app keys) with
// AES-256-GCM under the current key-encryption key and opens values sealed
// under it or any previous one, so that a new KEK can be introduced and old
// values re-sealed without downtime.
type Keyring struct {
	currentID string
	aeads     map[string]cipher.AEAD
	// current is the current KEK itself, for Derive only.
	current []byte
}

// Parse decodes a KEK given as base64 (standard or URL alphabet, padded
// or not) of exactly 32 bytes.
func Parse(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != Size {
				return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(b), Size)
			}
			return b, nil
		}
	}
	return nil, errors.New("key-encryption key is not base64")
}

// New returns a new random KEK, base64-encoded.
func New() string {
	b := make([]byte, Size)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ID names a KEK without revealing it: the first 8 bytes of
// SHA-256("authserver kek id" || kek), hex.
func ID(kek []byte) string {
	h := sha256.Sum256(append([]byte("authserver kek id\x00"), kek...))
	return hex.EncodeToString(h[:8])
}

// NewKeyring builds a keyring that seals under current and opens under
// current and every previous KEK.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}, current: append([]byte(nil), current...)}
	for i, key := range append([][]byte{current}, previous...) {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("key-encryption key: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key-encryption key: %w", err)
		}
		id := ID(key)
		if i == 0 {
			k.currentID = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// CurrentID is the id of the KEK that Seal uses.
func (k *Keyring) CurrentID() string { return k.currentID }

// Seal encrypts plaintext under the current KEK; aad binds the ciphertext
// to what it belongs to (a kid, an app id) so that it cannot be moved.
func (k *Keyring) Seal(plaintext, aad []byte) storage.Sealed {
	aead := k.aeads[k.currentID]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return storage.Sealed{KEKID: k.currentID, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, aad)}
}

// Derive returns a 32-byte key for one purpose, named by info, derived
// from the current KEK with HKDF-SHA-256 (RFC 5869, no salt): every
// instance that shares the KEK derives the same key, with no setting and
// no database, and a derived key tells nothing of the KEK or of a key
// derived for another purpose. info must be a constant that names the
// purpose and a version ("authserver dpop nonce v1 ..."). The key changes
// when the KEK rotates: use it only for what may be lost then (short-lived
// values such as server nonces), never to seal anything kept.
func (k *Keyring) Derive(info string) []byte {
	key, err := hkdf.Key(sha256.New, k.current, nil, info, Size)
	if err != nil {
		panic("hkdf: " + err.Error()) // only for a length over 255*32 bytes
	}
	return key
}

// Open decrypts s. It fails if s was sealed under an unknown KEK, with
// another aad, or was tampered with.
func (k *Keyring) Open(s storage.Sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[s.KEKID]
	if !ok {
		return nil, fmt.Errorf("sealed under unknown key-encryption key %s", s.KEKID)
	}
	if len(s.Nonce) != aead.NonceSize() {
		return nil, errors.New("sealed value has a bad nonce")
	}
	p, err := aead.Open(nil, s.Nonce, s.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("open sealed value (kek %s): %w", s.KEKID, err)
	}
	return p, nil
}
