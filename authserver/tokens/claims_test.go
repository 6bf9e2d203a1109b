package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/storage/storagetest"
)

// AccessTokenClaims.appendJSON skips the map fosite's strategy builds: it
// must give the bytes encoding/json gives for ToMapClaims.
func TestAppendClaimsMatchesMapClaims(t *testing.T) {
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	typical := AccessTokenClaims{
		Issuer: "https://auth.example.com", Subject: "app_live_x", ClientID: "app_live_x",
		Audience: []string{"https://api.example.com"}, Scope: []string{"read", "write"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), JTI: "abc", CredentialScope: CredentialScopeApp, SecretID: "sec_1",
	}
	with := func(f func(c *AccessTokenClaims)) AccessTokenClaims {
		c := typical
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		claims AccessTokenClaims
	}{
		{"typical", typical},
		{"zero", AccessTokenClaims{}},
		{"no audience", with(func(c *AccessTokenClaims) { c.Audience = nil })},
		{"empty audience", with(func(c *AccessTokenClaims) { c.Audience = []string{} })},
		{"two audiences", with(func(c *AccessTokenClaims) { c.Audience = []string{"a", "b<&>"} })},
		{"no scope", with(func(c *AccessTokenClaims) { c.Scope = nil })},
		{"one empty scope", with(func(c *AccessTokenClaims) { c.Scope = []string{""} })},
		{"user token without secret", with(func(c *AccessTokenClaims) { c.SecretID, c.CredentialScope = "", CredentialScopeAppUser })},
		{"no credential scope", with(func(c *AccessTokenClaims) { c.CredentialScope = "" })},
		{"assertion key", with(func(c *AccessTokenClaims) {
			c.SecretID, c.AssertionKey = "", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
		})},
		{"assertion key and secret", with(func(c *AccessTokenClaims) { c.AssertionKey = "k\"<" })},
		{"dpop bound", with(func(c *AccessTokenClaims) { c.ConfirmationJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" })},
		{"dpop bound, escapes", with(func(c *AccessTokenClaims) { c.ConfirmationJKT = "\"<\xff\u2028" })},
		{"before 1970", with(func(c *AccessTokenClaims) { c.IssuedAt = time.Unix(-5, 0) })},
		{"escapes everywhere", AccessTokenClaims{
			Issuer: "\"\\<>&\u2028", Subject: "\x00\x1f\x7f", ClientID: "é漢字😀", Audience: []string{"\xff"},
			Scope: []string{"a\xe2", "\x80b", "c\u2029"}, JTI: "\n", CredentialScope: "\t", SecretID: "\xed\xa0\x80",
			ConfirmationJKT: "\x01&",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.claims.ToMapClaims())
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.claims.appendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("appendJSON = %s\nencoding/json = %s", got, want)
			}
		})
	}
	t.Run("random scopes", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		alphabet := []string{"a", " ", "\"", "<", "\xe2", "\x80", "\x82", "\xac", "é", "\xff", "\u2028"}
		for range 5000 {
			c := typical
			c.Scope = nil
			for range r.IntN(4) {
				var b []byte
				for range r.IntN(5) {
					b = append(b, alphabet[r.IntN(len(alphabet))]...)
				}
				c.Scope = append(c.Scope, string(b))
			}
			want, _ := json.Marshal(c.ToMapClaims())
			if got := c.appendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("%q: appendJSON = %s; encoding/json = %s", c.Scope, got, want)
			}
		}
	})
}

// The strategy signs the claims fosite's DefaultJWTStrategy would sign
// for the same request, and the token verifies.
func TestAccessTokenStrategyMatchesFosite(t *testing.T) {
	keys := strategyKeys(t)
	ours := NewAccessTokenStrategy(keys, "https://auth.example.com")
	fosites := &oauth2.DefaultJWTStrategy{
		Signer: mapClaimsSigner{keys},
		Config: &fosite.Config{AccessTokenIssuer: "https://auth.example.com", JWTScopeClaimKey: jwt.JWTScopeFieldString},
	}
	now := time.Now().UTC().Truncate(time.Second)
	request := func() fosite.Requester {
		sess := NewSession()
		sess.Claims = AccessTokenClaims{Subject: "app_test_x", ClientID: "app_test_x", IssuedAt: now, JTI: "j1",
			CredentialScope: CredentialScopeApp, SecretID: "sec_1"}
		sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
		req := fosite.NewAccessRequest(sess)
		req.GrantScope("read")
		req.GrantScope("write")
		req.GrantAudience("https://api.example.com")
		return req
	}
	ctx := context.Background()
	got, sig, err := ours.GenerateAccessToken(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := fosites.GenerateAccessToken(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	g, w := strings.Split(got, "."), strings.Split(want, ".")
	if g[0] != w[0] || g[1] != w[1] || sig != g[2] {
		t.Fatalf("ours %s\nfosite's %s", got, want)
	}
	if _, err := keys.Verify(got); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// mapClaimsSigner is the jwt.Signer fosite's strategy signs with in
// TestAccessTokenStrategyMatchesFosite: the map claims as encoding/json
// writes them, signed by the key manager.
type mapClaimsSigner struct{ keys *signingkeys.KeyManager }

func (s mapClaimsSigner) Generate(_ context.Context, claims jwt.MapClaims, _ jwt.Mapper) (string, string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", "", err
	}
	token, err := s.keys.Sign(payload)
	if err != nil {
		return "", "", err
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}

func (mapClaimsSigner) Validate(context.Context, string) (string, error) {
	return "", errors.New("not used")
}

func (mapClaimsSigner) Hash(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("not used")
}

func (mapClaimsSigner) Decode(context.Context, string) (*jwt.Token, error) {
	return nil, errors.New("not used")
}

func (mapClaimsSigner) GetSignature(context.Context, string) (string, error) {
	return "", errors.New("not used")
}

func (mapClaimsSigner) GetSigningMethodLength(context.Context) int { return 0 }

// A token granted no scope has no "scope" claim (RFC 9068 §2.2.3 has it
// only for a granted scope), rather than "scope": "".
func TestEmptyScopeClaimOmitted(t *testing.T) {
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		scope []string
		want  bool
	}{
		{"nil", nil, false},
		{"empty", []string{}, false},
		{"one empty scope", []string{""}, false},
		{"one scope", []string{"read"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := AccessTokenClaims{Issuer: "https://auth.example.com", Subject: "s", ClientID: "app_test_x",
				IssuedAt: now, ExpiresAt: now.Add(time.Hour), JTI: "j", CredentialScope: CredentialScopeAppUser, Scope: tc.scope}
			_, inMap := c.ToMapClaims()["scope"]
			inJSON := bytes.Contains(c.appendJSON(nil), []byte(`"scope"`))
			if inMap != tc.want || inJSON != tc.want {
				t.Fatalf("scope claim in map %v, in JSON %v; want %v", inMap, inJSON, tc.want)
			}
		})
	}
}

// strategyKeys returns a key manager with one active ES256 key, on a
// database of its own.
func strategyKeys(t *testing.T) *signingkeys.KeyManager {
	t.Helper()
	store, _ := storagetest.Embedded(t)
	keyring, err := kek.NewKeyring(make([]byte, kek.Size))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys := signingkeys.NewKeyManager(store, keyring, nil, signingkeys.Config{Algorithm: signingkeys.ES256}, time.Now, log)
	if err := keys.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return keys
}
