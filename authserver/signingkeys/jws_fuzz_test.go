package signingkeys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzVerifyCompact cross-checks our compact JWS verifier
// (KeyManager.Verify) against go-jose's, on a key set publishing an RS256,
// an ES256 and an EdDSA key (and holding a discarded one). Whatever the
// input: no panic; whenever we accept, the header is, byte for byte, the
// one rendered for a published key, and go-jose (with our three
// algorithms) parses the token, verifies it with the published key its
// kid names and alg fits, and reads that key's alg and kid, typ "at+jwt"
// and the same payload; and whenever go-jose accepts a token whose header
// is exactly one our signer writes and whose parts are canonical
// base64url (and, for ES256, whose signature is low-S: p256LowS), we
// accept it too.
func FuzzVerifyCompact(f *testing.F) {
	m, signers, discarded := multiAlgKeys(f)
	payload := b64JSON(`{"client_id":"app_test_fuzz","exp":1800000000,"iss":"https://issuer.test","jti":"j1","scope":"read"}`)
	for kid, s := range signers {
		tok := signRaw(f, s, s.pub.header, payload)
		parts := strings.Split(tok, ".")
		f.Add(tok)
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
		f.Add(tok + ".")
		f.Add(parts[0] + ".\r\n" + parts[1] + "." + parts[2])
		f.Add(signRaw(f, s, b64JSON(`{"typ":"application/at+jwt","kid":"`+kid+`","alg":"`+s.pub.alg+`"}`), payload))
		f.Add(signRaw(f, s, b64JSON(`{"alg":"`+s.pub.alg+`","crit":["exp"],"exp":1,"kid":"`+kid+`"}`), payload))
		f.Add(signRaw(f, s, b64JSON(`{"alg":"HS256","kid":"`+kid+`"}`), payload))
		f.Add(signRaw(f, s, b64JSON(`{"alg":"none","alg":"`+s.pub.alg+`","kid":"`+kid+`"}`), payload))
		f.Add(signRaw(f, s, b64JSON(`{"alg":"`+s.pub.alg+`","kid":"`+kid+`","kid":"`+discarded+`"}`), payload))
		f.Add(signRaw(f, s, b64JSON(`{"alg":"`+s.pub.alg+`","k\u0069d":"`+kid+`"}`), payload))
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	body, _ := m.JWKS()
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(body, &jwks); err != nil {
		f.Fatal(err)
	}
	algs := []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}
	byHeader := m.state.Load().byHeader
	f.Fuzz(func(t *testing.T, token string) {
		payload, err := m.Verify(token)
		jws, joseErr := jose.ParseSignedCompact(token, algs)
		var josePayload []byte
		var jh jose.Header
		if joseErr == nil {
			jh = jws.Signatures[0].Header
			keys := jwks.Key(jh.KeyID)
			switch {
			case len(keys) != 1:
				joseErr = errString("no published key for the kid")
			case keys[0].Algorithm != jh.Algorithm:
				joseErr = errString("alg is not the key's")
			default:
				josePayload, joseErr = jws.Verify(keys[0].Key)
			}
		}
		if err == nil {
			if joseErr != nil {
				t.Fatalf("we accept, go-jose refuses: %v", joseErr)
			}
			key := byHeader[token[:strings.IndexByte(token, '.')]]
			if key == nil {
				t.Fatal("we accept a header we did not render")
			}
			typ, _ := jh.ExtraHeaders[jose.HeaderType].(string)
			if key.alg != jh.Algorithm || key.kid != jh.KeyID || typ != "at+jwt" || !bytes.Equal(payload, josePayload) {
				t.Fatalf("we read %s %s %q, go-jose %s %s %q %q", key.alg, key.kid, payload, jh.Algorithm, jh.KeyID, typ, josePayload)
			}
			return
		}
		if joseErr != nil {
			return
		}
		parts := strings.Split(token, ".")
		canonical := len(parts) == 3 && byHeader[parts[0]] != nil &&
			parts[1] == base64.RawURLEncoding.EncodeToString(josePayload) &&
			parts[2] == base64.RawURLEncoding.EncodeToString(jws.Signatures[0].Signature) &&
			(jh.Algorithm != string(jose.ES256) || p256LowS(jws.Signatures[0].Signature))
		if canonical {
			t.Fatalf("go-jose accepts a token in our own form, we refuse: %v", err)
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
