package apps

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/storage"
)

// AssertionKeyStore is what assertion-key settings need of the database.
type AssertionKeyStore interface {
	GetApp(ctx context.Context, id string) (storage.App, error)
	UpdateApp(ctx context.Context, id string, update func(*storage.App) error) (storage.App, error)
}

// Limits of an inline JWKS.
const (
	maxInlineJWKSBytes = 32 << 10
	maxInlineJWKSKeys  = 10
)

// AssertionKeys manages how an app signs its own JWTs (RFC 7523 client
// assertions and secure-mode user assertions): its public keys, inline
// (jwks) or published at a jwks_uri, never both (RFC 7591 §2), and its
// opt-in to HS256 assertions signed with its secrets (secret_signing).
//
// Opting in keeps each secret created from then on sealed under the KEK as
// well as hashed, since verifying an HMAC needs the secret itself. Secrets
// created before the opt-in cannot sign: only their SHA-256 was ever kept.
// Rotate to get a secret that can. Opting out erases every sealed copy at
// once.
type AssertionKeys struct {
	store         AssertionKeyStore
	clients       *clients.Cache
	audit         *audit.Auditor
	allowLoopback bool
	now           func() time.Time
}

// NewAssertionKeys returns the service; allowLoopback lets jwks_uri be
// http on loopback (tests only).
func NewAssertionKeys(store AssertionKeyStore, clients *clients.Cache, audit *audit.Auditor, allowLoopback bool, now func() time.Time) *AssertionKeys {
	return &AssertionKeys{store: store, clients: clients, audit: audit, allowLoopback: allowLoopback, now: now}
}

// AssertionKeySettings are an app's assertion-key settings, as set and as
// shown.
type AssertionKeySettings struct {
	// JWKS is an inline JWK Set of public signature keys, each with a
	// unique kid; null for none.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// JWKSURI is an https URL where the app publishes its JWK Set.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// SecretSigning opts the app into HS256 assertions signed with its
	// secrets (kid = the secret id).
	SecretSigning bool `json:"secret_signing"`
}

// AssertionKeysView is what the admin API shows: the settings and which
// secrets can sign HS256 assertions (the sealed ones).
type AssertionKeysView struct {
	AppID string `json:"app_id"`
	AssertionKeySettings
	// SigningSecrets are the ids of the secrets kept sealed, which can sign.
	SigningSecrets []string `json:"signing_secrets"`
}

func viewAssertionKeys(a storage.App) AssertionKeysView {
	v := AssertionKeysView{AppID: a.ID, AssertionKeySettings: AssertionKeySettings{
		JWKS: a.JWKS, JWKSURI: a.JWKSURI, SecretSigning: a.SecretSigning,
	}, SigningSecrets: []string{}}
	for _, s := range a.Secrets {
		if s.Sealed != nil {
			v.SigningSecrets = append(v.SigningSecrets, s.ID)
		}
	}
	return v
}

// Get returns an app's assertion-key settings. Errors: KindNotFound.
func (k *AssertionKeys) Get(ctx context.Context, appID string) (AssertionKeysView, error) {
	a, err := k.store.GetApp(ctx, appID)
	if err != nil {
		return AssertionKeysView{}, authserver.StoreError(err)
	}
	return viewAssertionKeys(a), nil
}

// Set replaces an app's assertion-key settings in one atomic update; the
// change applies to this instance at once and to others within the cache
// refresh interval, and keys cached from the old jwks_uri are dropped.
// Errors: KindInvalid (code invalid_jwks or invalid_jwks_uri, or both set),
// KindNotFound.
func (k *AssertionKeys) Set(ctx context.Context, actor authserver.Actor, appID string, in AssertionKeySettings) (AssertionKeysView, error) {
	jwks, err := normalizeJWKS(in.JWKS)
	if err != nil {
		return AssertionKeysView{}, err
	}
	if in.JWKSURI != "" {
		if err := assertion.CheckJWKSURI(in.JWKSURI, k.allowLoopback); err != nil {
			return AssertionKeysView{}, authserver.NewError(authserver.KindInvalid, "invalid_jwks_uri", "%v", err)
		}
	}
	if jwks != nil && in.JWKSURI != "" {
		return AssertionKeysView{}, authserver.NewError(authserver.KindInvalid, "jwks_and_jwks_uri", "set jwks or jwks_uri, not both (RFC 7591 §2)")
	}
	stored, err := k.store.UpdateApp(ctx, appID, func(a *storage.App) error {
		a.JWKS, a.JWKSURI, a.SecretSigning = jwks, in.JWKSURI, in.SecretSigning
		if !in.SecretSigning {
			for i := range a.Secrets {
				a.Secrets[i].Sealed = nil
			}
		}
		return nil
	})
	if err != nil {
		return AssertionKeysView{}, authserver.StoreError(err)
	}
	k.clients.Put(stored)
	detail := map[string]string{"secret_signing": boolString(in.SecretSigning)}
	if in.JWKSURI != "" {
		detail["jwks_uri"] = in.JWKSURI
	}
	if jwks != nil {
		detail["jwks"] = "inline"
	}
	k.audit.Record(ctx, actor, "app.assertion_keys.update", appID, appID, "success", detail)
	return viewAssertionKeys(stored), nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// normalizeJWKS checks an inline JWK Set and returns it re-encoded, or nil
// for none. Every key must be a public signature key usable with an
// assertion algorithm (RSA of at least 2048 bits, EC P-256 or Ed25519)
// with a unique kid; symmetric
// and private keys are refused, so that no secret is ever stored here.
func normalizeJWKS(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return authserver.NewError(authserver.KindInvalid, "invalid_jwks", format, args...)
	}
	if len(raw) > maxInlineJWKSBytes {
		return nil, bad("jwks is larger than %d bytes; publish it at a jwks_uri instead", maxInlineJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		return nil, bad("jwks must be a JWK Set with at least one key")
	}
	if len(set.Keys) > maxInlineJWKSKeys {
		return nil, bad("jwks may hold at most %d keys", maxInlineJWKSKeys)
	}
	out := jose.JSONWebKeySet{}
	seen := map[string]bool{}
	for i, r := range set.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(r); err != nil {
			return nil, bad("key %d is not a valid JWK", i)
		}
		if !key.IsPublic() || !key.Valid() {
			return nil, bad("key %d must be a public key (no symmetric or private keys)", i)
		}
		if key.KeyID == "" || seen[key.KeyID] {
			return nil, bad("key %d needs a kid unique within the set", i)
		}
		seen[key.KeyID] = true
		if key.Use != "" && key.Use != "sig" {
			return nil, bad("key %q has use %q, want sig", key.KeyID, key.Use)
		}
		if !assertion.KeyUsable(key) {
			return nil, bad("key %q is not an RSA (2048+ bits), EC P-256 or Ed25519 key fit for its alg (RS256, PS256, ES256, EdDSA or Ed25519)", key.KeyID)
		}
		out.Keys = append(out.Keys, key)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, bad("jwks cannot be encoded: %v", err)
	}
	return b, nil
}
