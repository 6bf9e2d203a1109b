package dpop_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"testing"

	"github.com/authserver/authserver/verifier/dpop"
)

// TestThumbprintKnownAnswers: RFC 7638 §3.1's RSA example and RFC 9449's
// EC example key (§6.1 gives its jkt).
func TestThumbprintKnownAnswers(t *testing.T) {
	t.Parallel()
	b64 := base64.RawURLEncoding
	n, err := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b64.DecodeString("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs")
	y, _ := b64.DecodeString("9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA")
	ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  any
		want string
	}{
		{"RFC 7638 §3.1", &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 9449 §6.1", ec, rfcJKT},
	} {
		got, err := dpop.Thumbprint(tc.key)
		if err != nil || got != tc.want {
			t.Errorf("%s: Thumbprint = %q, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestThumbprintAgreesWithGoJose on fresh keys of every supported type.
func TestThumbprintAgreesWithGoJose(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	keys := []*testKey{ks.es256, ks.eddsa, ks.rs256}
	for _, curve := range []elliptic.Curve{elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, &testKey{priv: k})
	}
	for _, k := range keys {
		got, err := dpop.Thumbprint(k.public())
		if want := k.thumbprint(t); err != nil || got != want {
			t.Errorf("%T: Thumbprint = %q, %v; go-jose says %s", k.public(), got, err, want)
		}
	}
}

func TestThumbprintRefuses(t *testing.T) {
	t.Parallel()
	ks := testKeys()
	for _, key := range []any{
		nil,
		[]byte("secret"),
		ks.es256.priv, // a private key, not its public half
		ed25519.PublicKey(make([]byte, 31)),
		&rsa.PublicKey{},
		*ks.es256.public().(*ecdsa.PublicKey),
	} {
		if got, err := dpop.Thumbprint(key); err == nil {
			t.Errorf("Thumbprint(%T) = %q, want an error", key, got)
		}
	}
}

func TestConfirmationMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cnf, proof string
		want       bool
	}{
		{rfcJKT, rfcJKT, true},
		{rfcJKT, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", false},
		{rfcJKT, rfcJKT[:42], false},
		{"", "", false},
		{"", rfcJKT, false},
		{rfcJKT, "", false},
	} {
		if got := dpop.ConfirmationMatches(tc.cnf, tc.proof); got != tc.want {
			t.Errorf("ConfirmationMatches(%q, %q) = %v", tc.cnf, tc.proof, got)
		}
	}
}
