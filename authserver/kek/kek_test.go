package kek

import (
	"bytes"
	"strings"
	"testing"

	"github.com/authserver/authserver/storage"
)

func mustKEK(t *testing.T) []byte {
	t.Helper()
	k, err := Parse(New())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringSealOpen(t *testing.T) {
	old, cur := mustKEK(t), mustKEK(t)
	before, err := NewKeyring(old)
	if err != nil {
		t.Fatal(err)
	}
	sealedUnderOld := before.Seal([]byte("private key"), []byte("kid-1"))
	if sealedUnderOld.KEKID != ID(old) || bytes.Contains(sealedUnderOld.Ciphertext, []byte("private key")) {
		t.Fatalf("sealed %+v", sealedUnderOld)
	}
	// After a KEK rotation the old KEK still opens, the new one seals.
	after, err := NewKeyring(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := after.Open(sealedUnderOld, []byte("kid-1")); err != nil || string(got) != "private key" {
		t.Fatalf("open under previous kek: %q, %v", got, err)
	}
	if after.Seal([]byte("x"), nil).KEKID != ID(cur) {
		t.Fatal("seals under a previous kek")
	}

	tampered := sealedUnderOld
	tampered.Ciphertext = append([]byte(nil), sealedUnderOld.Ciphertext...)
	tampered.Ciphertext[0] ^= 1
	onlyCur, err := NewKeyring(cur)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		keyring *Keyring
		aad     string
		sealed  storage.Sealed
	}{
		{"other aad", after, "kid-2", sealedUnderOld},
		{"tampered ciphertext", after, "kid-1", tampered},
		{"unknown kek", onlyCur, "kid-1", sealedUnderOld},
	}
	for _, tc := range tests {
		if _, err := tc.keyring.Open(tc.sealed, []byte(tc.aad)); err == nil {
			t.Errorf("%s: opened", tc.name)
		}
	}
}

func TestParseKEK(t *testing.T) {
	for _, bad := range []string{"", "not base64!", "c2hvcnQ=", strings.Repeat("A", 60)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("ParseKEK(%q) accepted", bad)
		}
	}
	k := mustKEK(t)
	if len(k) != Size {
		t.Fatalf("len %d", len(k))
	}
}

// Derive: the same KEK and purpose give the same key on every keyring
// (instances agree with no setting), another purpose or another current
// KEK another key, previous KEKs play no part, and the key is neither the
// KEK nor sealed under it.
func TestKeyringDerive(t *testing.T) {
	a, b := mustKEK(t), mustKEK(t)
	ring := func(cur []byte, prev ...[]byte) *Keyring {
		k, err := NewKeyring(cur, prev...)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	const info = "authserver test purpose v1"
	k := ring(a).Derive(info)
	if len(k) != Size {
		t.Fatalf("derived %d bytes, want %d", len(k), Size)
	}
	for name, other := range map[string][]byte{
		"another instance, same kek":   ring(a).Derive(info),
		"same kek, a previous one too": ring(a, b).Derive(info),
	} {
		if !bytes.Equal(k, other) {
			t.Errorf("%s: derived another key", name)
		}
	}
	for name, other := range map[string][]byte{
		"another purpose":                 ring(a).Derive(info + "x"),
		"another kek":                     ring(b).Derive(info),
		"after a rotation to another kek": ring(b, a).Derive(info),
		"the kek itself":                  a,
	} {
		if bytes.Equal(k, other) {
			t.Errorf("%s: the same bytes", name)
		}
	}
}
