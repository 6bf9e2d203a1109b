package signingkeys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// testKey is one signing key of every algorithm we sign with.
type testKey struct {
	alg  string
	kid  string
	priv crypto.Signer
}

func newTestKeys(t testing.TB) []testKey {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []testKey{{RS256, "rsa-kid", rsaKey}, {ES256, "ec-kid", ecKey}, {EdDSA, "ed-kid", edKey}}
}

// goJoseSign is what KeyManager.Sign did before it signed by itself.
func goJoseSign(t testing.TB, k testKey, payload []byte) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Our signer must produce what go-jose produced: the same header bytes,
// the same payload encoding, a signature go-jose verifies; RS256 and
// EdDSA are deterministic, so there the whole token is identical.
func TestJWSSignerMatchesGoJose(t *testing.T) {
	payload := []byte(`{"aud":["https://api.example.com"],"client_id":"app_live_x","exp":1764612000,"iat":1764608400,"iss":"https://auth.example.com","jti":"abc","scope":"read write","sub":"app_live_x"}`)
	for _, k := range newTestKeys(t) {
		t.Run(k.alg, func(t *testing.T) {
			t.Parallel()
			s, err := newJWSSigner(k.alg, k.kid, k.priv)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][]byte{payload, {}, []byte("x"), []byte("xy"), bytes.Repeat([]byte{0xff, 0x00, '.'}, 100)} {
				ours, err := s.sign(p)
				if err != nil {
					t.Fatal(err)
				}
				theirs := goJoseSign(t, k, p)
				op, tp := strings.Split(ours, "."), strings.Split(theirs, ".")
				if len(op) != 3 || op[0] != tp[0] || op[1] != tp[1] {
					t.Fatalf("ours %s\ngo-jose %s", ours, theirs)
				}
				if k.alg != ES256 && ours != theirs {
					t.Fatalf("deterministic %s differs:\nours %s\ngo-jose %s", k.alg, ours, theirs)
				}
				jws, err := jose.ParseSignedCompact(ours, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.alg)})
				if err != nil {
					t.Fatal(err)
				}
				got, err := jws.Verify(k.priv.Public())
				if err != nil || !bytes.Equal(got, p) {
					t.Fatalf("go-jose verify: %v, payload %q", err, got)
				}
				raw, err := base64.RawURLEncoding.DecodeString(op[0])
				if err != nil {
					t.Fatal(err)
				}
				var hdr map[string]any
				if err := json.Unmarshal(raw, &hdr); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"alg": k.alg, "kid": k.kid, "typ": "at+jwt"}
				if len(hdr) != len(want) || hdr["alg"] != want["alg"] || hdr["kid"] != want["kid"] || hdr["typ"] != want["typ"] {
					t.Fatalf("header %v, want exactly %v", hdr, want)
				}
			}
		})
	}
}

func TestJWSSignerRefusesMismatchedKeys(t *testing.T) {
	keys := newTestKeys(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  string
		key  crypto.Signer
	}{
		{"RSA key for ES256", ES256, keys[0].priv},
		{"EC key for RS256", RS256, keys[1].priv},
		{"Ed25519 key for ES256", ES256, keys[2].priv},
		{"P-384 key for ES256", ES256, p384},
		{"EC key for HS256", "HS256", keys[1].priv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newJWSSigner(tc.alg, "k", tc.key); err == nil {
				t.Fatal("signer created")
			}
			if _, err := newJWSVerifier(tc.alg, "k", tc.key.Public()); err == nil {
				t.Fatal("verifier created")
			}
		})
	}
}

// multiAlgKeys is a key manager on the embedded database whose key set
// publishes one key of each algorithm (ES256 active, RS256 next, EdDSA
// retired) and holds a discarded ES256 key. It returns the manager, a
// signer for every key by kid (the discarded one included) and the kid of
// the discarded key.
func multiAlgKeys(t testing.TB) (*KeyManager, map[string]*jwsSigner, string) {
	t.Helper()
	store, _ := storagetest.Embedded(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keyring, err := kek.NewKeyring(make([]byte, kek.Size))
	if err != nil {
		t.Fatal(err)
	}
	m := NewKeyManager(store, keyring, nil, Config{Algorithm: ES256}, time.Now, log)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	now := msTime(time.Now())
	var extra []storage.SigningKey
	for _, s := range []struct{ alg, state string }{
		{RS256, storage.KeyNext}, {EdDSA, storage.KeyRetired}, {ES256, storage.KeyInactive},
	} {
		k, err := m.NewKey(s.alg)
		if err != nil {
			t.Fatal(err)
		}
		k.State, k.PublishedAt = s.state, now
		switch s.state {
		case storage.KeyNext:
			k.ActivateAt = now.Add(100 * 24 * time.Hour)
		case storage.KeyRetired:
			k.RetiredAt, k.RemoveAt = now, now.Add(100*24*time.Hour)
		case storage.KeyInactive:
			k.DiscardedAt, k.PriorState = now, storage.KeyRetired
		}
		extra = append(extra, k)
	}
	if _, err := store.UpdateKeySet(ctx, func(ks *storage.KeySet) error {
		ks.Keys = append(ks.Keys, extra...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	signers := map[string]*jwsSigner{}
	for _, k := range m.KeySet().Keys {
		s, err := m.signerFor(k)
		if err != nil {
			t.Fatal(err)
		}
		signers[k.KID] = s
	}
	if n := len(m.state.Load().published); n != 3 {
		t.Fatalf("%d published keys, want 3", n)
	}
	return m, signers, extra[2].KID
}

// b64JSON is base64url(s), for hand-made headers.
func b64JSON(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw signs header.payload (both already encoded) with s's key,
// whatever the header says.
func signRaw(t testing.TB, s *jwsSigner, header, payload string) string {
	t.Helper()
	full, err := s.appendSignature([]byte(header + "." + payload))
	if err != nil {
		t.Fatal(err)
	}
	return full
}

// Verify refuses everything go-jose refuses with our algorithms, and
// more: a header other than, byte for byte, the one the server renders for
// a published key is refused however go-jose would read it. What it
// accepts, go-jose accepts with the same key.
func TestVerifyCompact(t *testing.T) {
	m, signers, discarded := multiAlgKeys(t)
	payload := b64JSON(`{"iss":"https://issuer.test","jti":"j"}`)
	published := map[string]string{} // kid → alg
	for kid, k := range m.state.Load().published {
		published[kid] = k.alg
	}
	var esKid, rsKid, edKid string
	for kid, alg := range published {
		switch alg {
		case ES256:
			esKid = kid
		case RS256:
			rsKid = kid
		case EdDSA:
			edKid = kid
		}
	}
	es, rs, ed := signers[esKid], signers[rsKid], signers[edKid]
	hdr := func(alg, kid string) string {
		return b64JSON(`{"alg":"` + alg + `","kid":"` + kid + `","typ":"at+jwt"}`)
	}
	valid := signRaw(t, es, es.pub.header, payload)
	parts := strings.Split(valid, ".")
	hmacNone := func(alg string) string {
		h := hdr(alg, esKid)
		return h + "." + payload + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	}
	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"ES256 active key", valid, nil},
		{"RS256 next key", signRaw(t, rs, rs.pub.header, payload), nil},
		{"EdDSA retired key", signRaw(t, ed, ed.pub.header, payload), nil},
		// go-jose reads these as the key's header; they are not the bytes
		// the server renders.
		{"members reordered", signRaw(t, es, b64JSON(`{"typ":"at+jwt","kid":"`+esKid+`","alg":"ES256"}`), payload), ErrUnknownHeader},
		{"whitespace in the header JSON", signRaw(t, es, b64JSON(` { "alg" : "ES256" , "kid" : "`+esKid+`" } `), payload), ErrUnknownHeader},
		{"typ application/at+jwt", signRaw(t, rs, b64JSON(`{"alg":"RS256","kid":"`+rsKid+`","typ":"application/at+jwt"}`), payload), ErrUnknownHeader},
		{"empty payload", signRaw(t, ed, ed.pub.header, ""), nil},

		{"empty", "", ErrMalformedToken},
		{"two parts", parts[0] + "." + parts[1], ErrMalformedToken},
		{"four parts", valid + ".", ErrMalformedToken},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrMalformedToken},
		{"padding", parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(make([]byte, 64)), ErrMalformedToken},
		{"standard alphabet '+'", parts[0] + "." + parts[1] + ".+" + parts[2][1:], ErrMalformedToken},
		{"standard alphabet '/'", parts[0] + "." + parts[1] + "./" + parts[2][1:], ErrMalformedToken},
		{"newline inside", parts[0] + ".\n" + parts[1] + "." + parts[2], ErrMalformedToken},
		{"non-zero trailing bits", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "B", ErrMalformedToken},
		{"alg none", hdr("none", esKid) + "." + payload + ".", ErrUnknownHeader},
		{"alg HS256 (key confusion)", hmacNone("HS256"), ErrUnknownHeader},
		{"alg PS256", hmacNone("PS256"), ErrUnknownHeader},
		{"alg ES384", hmacNone("ES384"), ErrUnknownHeader},
		{"alg missing", signRaw(t, es, b64JSON(`{"kid":"`+esKid+`","typ":"at+jwt"}`), payload), ErrUnknownHeader},
		{"alg in capitals", signRaw(t, es, b64JSON(`{"ALG":"ES256","kid":"`+esKid+`"}`), payload), ErrUnknownHeader},
		{"alg twice", signRaw(t, es, b64JSON(`{"alg":"none","alg":"ES256","kid":"`+esKid+`"}`), payload), ErrUnknownHeader},
		{"alg not a string", signRaw(t, es, b64JSON(`{"alg":["ES256"],"kid":"`+esKid+`"}`), payload), ErrUnknownHeader},
		{"crit", signRaw(t, es, b64JSON(`{"alg":"ES256","crit":["exp"],"exp":1,"kid":"`+esKid+`"}`), payload), ErrUnknownHeader},
		{"crit b64", signRaw(t, es, b64JSON(`{"alg":"ES256","b64":false,"crit":["b64"],"kid":"`+esKid+`"}`), payload), ErrUnknownHeader},
		{"embedded jwk", signRaw(t, es, b64JSON(`{"alg":"ES256","jwk":{},"kid":"`+esKid+`"}`), payload), ErrUnknownHeader},
		{"header not an object", signRaw(t, es, b64JSON(`["alg","ES256"]`), payload), ErrUnknownHeader},
		{"trailing data after the header", signRaw(t, es, b64JSON(`{"alg":"ES256","kid":"`+esKid+`"}{}`), payload), ErrUnknownHeader},
		{"header too long", signRaw(t, es, b64JSON(`{"alg":"ES256","kid":"`+esKid+`","typ":"`+strings.Repeat("x", maxHeaderLen)+`"}`), payload), ErrMalformedToken},
		{"token too long", signRaw(t, es, es.pub.header, b64JSON(`{"x":"`+strings.Repeat("x", maxTokenLen)+`"}`)), ErrMalformedToken},
		{"unknown kid", signRaw(t, es, hdr(ES256, "nope"), payload), ErrUnknownHeader},
		{"no kid", signRaw(t, es, b64JSON(`{"alg":"ES256"}`), payload), ErrUnknownHeader},
		{"discarded key", signRaw(t, signers[discarded], signers[discarded].pub.header, payload), ErrUnknownHeader},
		{"alg of another key", signRaw(t, es, hdr(RS256, esKid), payload), ErrUnknownHeader},
		{"EdDSA header on the RSA key", signRaw(t, ed, hdr(EdDSA, rsKid), payload), ErrUnknownHeader},
		{"signed by another key", signRaw(t, ed, es.pub.header, payload), ErrInvalidSignature},
		{"payload changed", parts[0] + "." + b64JSON(`{"iss":"x"}`) + "." + parts[2], ErrInvalidSignature},
		{"ES256 signature as ASN.1", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(derSignature(mustB64(t, parts[2])[:32], mustB64(t, parts[2])[32:])), ErrInvalidSignature},
		{"ES256 signature with r = 0", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(append(make([]byte, 32), mustB64(t, parts[2])[32:]...)), ErrInvalidSignature},
		{"no signature", parts[0] + "." + parts[1] + ".", ErrInvalidSignature},
		{"ES256 high-S twin", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sTwin(mustB64(t, parts[2]))), ErrInvalidSignature},
	}
	jwksBody, _ := m.JWKS()
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(jwksBody, &jwks); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Verify(tc.token)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && err == nil:
				t.Fatal("accepted")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			// go-jose, with our algorithms, must agree wherever we accept.
			jws, joseErr := jose.ParseSignedCompact(tc.token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
			if joseErr == nil {
				keys := jwks.Key(jws.Signatures[0].Header.KeyID)
				if len(keys) != 1 || keys[0].Algorithm != jws.Signatures[0].Header.Algorithm {
					joseErr = errors.New("no key for the kid and alg")
				} else {
					_, joseErr = jws.Verify(keys[0].Key)
				}
			}
			if err == nil && joseErr != nil {
				t.Fatalf("we accept what go-jose refuses: %v", joseErr)
			}
		})
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sTwin returns the other valid ES256 signature of the same message,
// (r, n−s) for (r, s).
func sTwin(sig []byte) []byte {
	out := append([]byte(nil), sig...)
	s := new(big.Int).SetBytes(out[ecP256Size:])
	s.Sub(p256Order, s).FillBytes(out[ecP256Size:])
	return out
}

// Our ES256 signatures are low-S (s ≤ n/2) and valid; the high-S twin of
// each, which crypto/ecdsa and go-jose accept, we refuse.
func TestES256LowS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newJWSSigner(ES256, "k", key)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: ES256}
	// Half of crypto/ecdsa's signatures are high-S: 64 low ones in a row
	// happen by chance once in 2^64.
	for i := range 64 {
		tok, err := s.sign([]byte(`{"i":` + strconv.Itoa(i) + `}`))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		sig := mustB64(t, parts[2])
		if !p256LowS(sig) {
			t.Fatalf("signature %d is high-S", i)
		}
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(jwk); err != nil {
			t.Fatalf("go-jose refuses signature %d: %v", i, err)
		}
		if !s.pub.verify(parts[0]+"."+parts[1], sig) {
			t.Fatalf("we refuse our own signature %d", i)
		}
		twin := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sTwin(sig))
		if jws, err := jose.ParseSignedCompact(twin, []jose.SignatureAlgorithm{jose.ES256}); err != nil {
			t.Fatal(err)
		} else if _, err := jws.Verify(jwk); err != nil {
			t.Fatalf("go-jose refuses the twin, so the test proves nothing: %v", err)
		}
		if s.pub.verify(parts[0]+"."+parts[1], sTwin(sig)) {
			t.Fatalf("we accept the high-S twin of signature %d", i)
		}
	}
}
