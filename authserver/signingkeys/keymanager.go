package signingkeys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
)

// Signing algorithms (RFC 7518 §3, RFC 8037). RS256 is the default and the
// one RFC 9068 §2.1 requires every resource server to support.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Store is what the key manager needs of the database.
type Store interface {
	GetKeySet(ctx context.Context) (storage.KeySet, error)
	KeySetVersion(ctx context.Context) (int64, error)
	CreateKeySet(ctx context.Context, ks storage.KeySet) error
	UpdateKeySet(ctx context.Context, update func(*storage.KeySet) error) (storage.KeySet, error)
}

// Config configures the signing keys. Durations are time.Duration.
type Config struct {
	// Algorithm of new keys: RS256, ES256 or EdDSA.
	Algorithm string
	// RSABits is the modulus size of new RS256 keys: 2048 or 3072.
	RSABits int
	// ReloadInterval is how often an instance checks the database for key
	// set changes made by another instance, and runs the rotation
	// scheduler (default 10s).
	ReloadInterval time.Duration
	// RotationPeriod is how long a key signs before the next one takes
	// over (default 30 days); zero disables time-based rotation.
	RotationPeriod time.Duration
	// PublishAhead is how long a next key is in the JWKS before it signs
	// (default 24h); at least the JWKS max-age plus ReloadInterval.
	PublishAhead time.Duration
	// Retention is how long a retired key stays in the JWKS (default
	// 48h); at least MaxTokenLifetime + ReloadInterval + ClockSkewLeeway.
	Retention time.Duration
}

// policy is the rotation schedule of c.
func (c Config) policy() Policy {
	return Policy{Algorithm: c.Algorithm, RotationPeriod: c.RotationPeriod, PublishAhead: c.PublishAhead, Retention: c.Retention}
}

// KeyManager owns the signing keys: it creates the first one, decrypts the
// active key for signing, keeps every published key for verification,
// renders the JWKS (RFC 7517 §5) once per key-set change, and follows
// changes other instances make through the database. Reads are lock-free
// (an atomic pointer to an immutable snapshot).
type KeyManager struct {
	store   Store
	keyring *kek.Keyring
	audit   *audit.Auditor
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	state   atomic.Pointer[keyState]
	// checked is the clock reading of the last completed scheduler pass.
	checked atomic.Pointer[time.Time]
	// rotations counts changes of the active key seen by this instance.
	rotations atomic.Uint64
}

// keyState is an immutable snapshot of the key set.
type keyState struct {
	version int64
	set     storage.KeySet
	active  *liveKey
	// published are the keys in the JWKS, by kid: they verify tokens.
	published map[string]*liveKey
	// byHeader are the same keys by the base64url protected header our
	// signer writes for them: the only headers Verify accepts.
	byHeader map[string]*liveKey
	jwks     []byte
	etag     string
}

// liveKey is a decoded key. signer is set only for the active key.
type liveKey struct {
	kid      string
	alg      string
	state    string
	public   crypto.PublicKey
	jwk      jose.JSONWebKey
	verifier *jwsVerifier
	signer   *jwsSigner
}

// NewKeyManager returns a manager; call Init before use. audit records
// every key transition (nil records none).
func NewKeyManager(store Store, keyring *kek.Keyring, audit *audit.Auditor, cfg Config, now func() time.Time, log *slog.Logger) *KeyManager {
	if cfg.Algorithm == "" {
		cfg.Algorithm = RS256
	}
	if cfg.RSABits == 0 {
		cfg.RSABits = 2048
	}
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = 10 * time.Second
	}
	if cfg.PublishAhead <= 0 {
		cfg.PublishAhead = 24 * time.Hour
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 2 * MaxTokenLifetime
	}
	return &KeyManager{store: store, keyring: keyring, audit: audit, cfg: cfg, now: now, log: log}
}

// Init loads the key set, creating the first active key if the store has
// none (only one instance wins that race; the others load its key), then
// runs one scheduler pass so that a due rotation or an algorithm change
// starts at once rather than a reload interval later.
func (m *KeyManager) Init(ctx context.Context) error {
	ks, err := m.store.GetKeySet(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		key, err := m.NewKey(m.cfg.Algorithm)
		if err != nil {
			return err
		}
		now := msTime(m.now())
		key.State, key.PublishedAt, key.ActivateAt, key.ActivatedAt = storage.KeyActive, now, now, now
		err = m.store.CreateKeySet(ctx, storage.KeySet{Keys: []storage.SigningKey{key}})
		if err != nil && !errors.Is(err, storage.ErrDuplicate) {
			return fmt.Errorf("create first signing key: %w", err)
		}
		if err == nil {
			m.log.Info("created the first signing key", "kid", key.KID, "alg", key.Algorithm)
			m.record(ctx, authserver.ActorSystem, Event{Action: ActionKeyActivate, KID: key.KID, Detail: map[string]string{
				"to": storage.KeyActive, "alg": key.Algorithm, "reason": "first key",
			}})
		}
		ks, err = m.store.GetKeySet(ctx)
		if err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if err := m.apply(ks); err != nil {
		return err
	}
	if err := m.Schedule(ctx); err != nil {
		m.log.Warn("signing-key scheduler", "err", err)
	}
	return nil
}

// Reload reads the key set again if its version changed.
func (m *KeyManager) Reload(ctx context.Context) error {
	v, err := m.store.KeySetVersion(ctx)
	if err != nil {
		return fmt.Errorf("poll signing keys: %w", err)
	}
	if cur := m.state.Load(); cur != nil && cur.version == v {
		return nil
	}
	ks, err := m.store.GetKeySet(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	return m.apply(ks)
}

// Run reloads the key set and runs the rotation scheduler every
// ReloadInterval (a real-time ticker; every decision reads the injected
// clock) until ctx ends. A failed reload keeps the last good key set; a
// failed pass is retried on the next tick; both are logged.
func (m *KeyManager) Run(ctx context.Context) {
	periodic.Every(ctx, m.cfg.ReloadInterval, m.log, "signing-key reload and schedule", func(ctx context.Context) error {
		if err := m.Reload(ctx); err != nil {
			return err
		}
		return m.Schedule(ctx)
	})
}

// apply decodes ks into a new snapshot and installs it, unless a newer
// version is installed already.
func (m *KeyManager) apply(ks storage.KeySet) error {
	st, err := m.decode(ks)
	if err != nil {
		return err
	}
	for {
		cur := m.state.Load()
		if cur != nil && cur.version >= st.version {
			return nil
		}
		if m.state.CompareAndSwap(cur, st) {
			if cur != nil && cur.active.kid != st.active.kid {
				m.rotations.Add(1)
			}
			if cur == nil || cur.active.kid != st.active.kid {
				m.log.Info("signing with key", "kid", st.active.kid, "alg", st.active.alg, "key_set_version", st.version)
			}
			return nil
		}
	}
}

func (m *KeyManager) decode(ks storage.KeySet) (*keyState, error) {
	st := &keyState{version: ks.Version, set: ks, published: map[string]*liveKey{}, byHeader: map[string]*liveKey{}}
	jwks := jose.JSONWebKeySet{}
	for _, k := range ks.Keys {
		if k.State == storage.KeyInactive {
			continue
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k.PublicJWK); err != nil {
			return nil, fmt.Errorf("decode public key %s: %w", k.KID, err)
		}
		verifier, err := newJWSVerifier(k.Algorithm, k.KID, jwk.Key)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", k.KID, err)
		}
		lk := &liveKey{kid: k.KID, alg: k.Algorithm, state: k.State, public: jwk.Key, jwk: jwk, verifier: verifier}
		if k.State == storage.KeyActive {
			signer, err := m.signerFor(k)
			if err != nil {
				return nil, err
			}
			lk.signer = signer
			st.active = lk
		}
		st.published[k.KID] = lk
		st.byHeader[verifier.header] = lk
		jwks.Keys = append(jwks.Keys, jwk)
	}
	if st.active == nil {
		return nil, fmt.Errorf("key set version %d has no active key", ks.Version)
	}
	body, err := json.Marshal(jwks)
	if err != nil {
		return nil, fmt.Errorf("render jwks: %w", err)
	}
	sum := sha256.Sum256(body)
	st.jwks, st.etag = body, `"`+base64.RawURLEncoding.EncodeToString(sum[:18])+`"`
	return st, nil
}

// signerFor decrypts k's private key and returns its signer.
func (m *KeyManager) signerFor(k storage.SigningKey) (*jwsSigner, error) {
	der, err := m.keyring.Open(k.Private, []byte(k.KID))
	if err != nil {
		return nil, fmt.Errorf("decrypt signing key %s: %w", k.KID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", k.KID, err)
	}
	signer, err := newJWSSigner(k.Algorithm, k.KID, priv)
	if err != nil {
		return nil, fmt.Errorf("signer for key %s: %w", k.KID, err)
	}
	return signer, nil
}

// NewKey generates a key of alg, seals its private part under the current
// KEK and returns it with no state set. Its kid is the RFC 7638 thumbprint
// (SHA-256, base64url) of its public key.
func (m *KeyManager) NewKey(alg string) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, m.cfg.RSABits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return storage.SigningKey{}, fmt.Errorf("unsupported signing algorithm %q (want RS256, ES256 or EdDSA)", alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("encode private key: %w", err)
	}
	return storage.SigningKey{
		KID:       pub.KeyID,
		Algorithm: alg,
		PublicJWK: pubJSON,
		Private:   m.keyring.Seal(der, []byte(pub.KeyID)),
		CreatedAt: msTime(m.now()),
	}, nil
}

// JWKS returns the current JSON Web Key Set document (public keys only,
// each with kid, alg and use) and its strong ETag. The bytes are shared:
// callers must not modify them.
func (m *KeyManager) JWKS() (body []byte, etag string) {
	st := m.state.Load()
	return st.jwks, st.etag
}

// KeySet returns the key set as last loaded (private parts stay sealed).
func (m *KeyManager) KeySet() storage.KeySet {
	return m.state.Load().set
}

// ActiveKey returns the kid and algorithm of the key that signs now.
func (m *KeyManager) ActiveKey() (kid, alg string) {
	a := m.state.Load().active
	return a.kid, a.alg
}

// VerificationKey returns the public key and algorithm for kid if kid is
// published (next, active or retired). A discarded, deleted or unknown kid
// gives ok == false.
func (m *KeyManager) VerificationKey(kid string) (key crypto.PublicKey, alg string, ok bool) {
	k, ok := m.state.Load().published[kid]
	if !ok {
		return nil, "", false
	}
	return k.public, k.alg, true
}

// Rotations returns how many times this instance has seen the active key
// change since it started.
func (m *KeyManager) Rotations() uint64 { return m.rotations.Load() }

// Version is the version of the loaded key set.
func (m *KeyManager) Version() int64 { return m.state.Load().version }

// Sign signs payload with the active key as a compact JWS (RFC 7515
// §7.1) whose protected header is exactly {"alg","kid","typ":"at+jwt"}
// (RFC 9068 §2.1). It returns the token.
func (m *KeyManager) Sign(payload []byte) (string, error) {
	token, err := m.state.Load().active.signer.sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return token, nil
}

// Errors of Verify. They say why a token is not one of ours and nothing
// more: the details would help only a forger.
var (
	// ErrMalformedToken: not a compact JWS (RFC 7515 §7.1) of strict
	// base64url parts within the size limits.
	ErrMalformedToken = errors.New("token is not a compact JWS")
	// ErrUnknownHeader: the protected header is not, byte for byte, one
	// this server rendered for a published key (an unknown, discarded or
	// deleted kid, another alg, any other member or spelling).
	ErrUnknownHeader = errors.New("token header is not one of a published key")
	// ErrInvalidSignature: the signature does not verify with the key the
	// header names.
	ErrInvalidSignature = errors.New("token signature is invalid")
)

// Verify checks that token is a compact JWS this server signed with a key
// it still publishes (next, active or retired), among every published key
// and not only the active one, so that tokens stay valid across a
// rotation, and returns its payload. The protected header is not parsed:
// it must be exactly one the server rendered for a published key, which
// fixes alg, kid and typ "at+jwt" (RFC 9068 §2.1, RFC 8725 §3.1) and
// leaves no header member to interpret. Only the compact serialization is
// a JWT (RFC 7519 §1); see parseCompact for its limits. Verify checks no
// claim. Errors: ErrMalformedToken, ErrUnknownHeader, ErrInvalidSignature.
func (m *KeyManager) Verify(token string) (payload []byte, err error) {
	encHeader, signingInput, payload, sig, err := parseCompact(token)
	if err != nil {
		return nil, ErrMalformedToken
	}
	key, ok := m.state.Load().byHeader[encHeader]
	if !ok {
		return nil, ErrUnknownHeader
	}
	if !key.verifier.verify(signingInput, sig) {
		return nil, ErrInvalidSignature
	}
	return payload, nil
}

// errKeySetUnchanged aborts a key-set update that has nothing to write.
var errKeySetUnchanged = errors.New("key set unchanged")

// Schedule runs one pass of the rotation scheduler at m.now(): it promotes
// a next key whose time has come, removes retired keys whose retention is
// over, and publishes a new next key when a rotation is due within
// PublishAhead or the configured algorithm changed. Every instance runs it;
// the key set is written by one compare-and-swap, so instances racing make
// one transition, not two, and the losers load the winner's set. Key
// generation (slow for RSA) happens before the write, never inside it.
func (m *KeyManager) Schedule(ctx context.Context) error {
	now := m.now()
	p := m.cfg.policy()
	set := m.state.Load().set
	var fresh *storage.SigningKey
	if needsNextKey(set, now, p) {
		k, err := m.NewKey(p.Algorithm)
		if err != nil {
			return err
		}
		fresh = &k
	}
	dry := set
	dry.Keys = slices.Clone(set.Keys)
	if len(advanceKeySet(&dry, now, p, fresh)) > 0 {
		_, _, err := m.update(ctx, authserver.ActorScheduler, func(ks *storage.KeySet) ([]Event, error) {
			return advanceKeySet(ks, now, p, fresh), nil
		})
		if err != nil {
			return fmt.Errorf("advance signing keys: %w", err)
		}
	}
	m.checked.Store(&now)
	return nil
}

// CheckedAt is the clock reading of this instance's last completed
// scheduler pass (zero before the first): every transition due by then was
// written and is what this instance serves. An operator sees from it that
// the scheduler runs; tests wait on it after moving the clock.
func (m *KeyManager) CheckedAt() time.Time {
	if t := m.checked.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// update applies change to the stored key set through one compare-and-swap
// write (Store.UpdateKeySet), checks every invariant before writing,
// installs the result in this instance at once and audits each event under
// actor. change runs on a fresh copy on every attempt; when it reports no
// event nothing is written and the stored set (which another instance may
// have just changed) is loaded instead. Errors are *Error: change's own,
// KindConflict for an invariant the result would break or a write that
// kept losing, KindUnavailable for the database.
func (m *KeyManager) update(ctx context.Context, actor authserver.Actor, change func(*storage.KeySet) ([]Event, error)) (storage.KeySet, []Event, error) {
	var events []Event
	ks, err := m.store.UpdateKeySet(ctx, func(ks *storage.KeySet) error {
		ev, err := change(ks)
		if err != nil {
			return err
		}
		if len(ev) == 0 {
			return errKeySetUnchanged
		}
		if err := CheckKeySet(*ks); err != nil {
			return &authserver.Error{Kind: authserver.KindConflict, Code: "key_set_invariant", Message: "the change would break a key-set invariant; nothing was written", Err: err}
		}
		events = ev
		return nil
	})
	switch {
	case errors.Is(err, errKeySetUnchanged):
		if err := m.Reload(ctx); err != nil {
			return storage.KeySet{}, nil, authserver.StoreError(err)
		}
		return m.state.Load().set, nil, nil
	case err != nil:
		return storage.KeySet{}, nil, authserver.StoreError(err)
	}
	for _, e := range events {
		m.record(ctx, actor, e)
	}
	if err := m.apply(ks); err != nil {
		// Written, but this instance cannot load it (e.g. a private key
		// under a KEK it lacks): it keeps its last good set, and says so.
		return ks, events, fmt.Errorf("load the key set just written: %w", err)
	}
	return ks, events, nil
}

// record audits one transition; key material never reaches an event.
func (m *KeyManager) record(ctx context.Context, actor authserver.Actor, e Event) {
	m.log.Info("signing key transition", "action", e.Action, "kid", e.KID, "actor", actor.ID)
	if m.audit != nil {
		m.audit.Record(ctx, actor, e.Action, e.KID, "", "success", e.Detail)
	}
}

// ListKeys reads the key set from the database (and loads it here if it
// is newer). Errors: KindUnavailable.
func (m *KeyManager) ListKeys(ctx context.Context) (Listing, error) {
	ks, err := m.store.GetKeySet(ctx)
	if err != nil {
		return Listing{}, authserver.StoreError(err)
	}
	if err := m.apply(ks); err != nil {
		m.log.Warn("signing keys not loaded", "err", err)
	}
	return Listing{
		Items: viewKeys(ks), Version: ks.Version, Algorithm: m.cfg.Algorithm,
		RotationPeriod: m.cfg.RotationPeriod.String(), PublishAhead: m.cfg.PublishAhead.String(), Retention: m.cfg.Retention.String(),
		CheckedAt: optTime(m.CheckedAt()),
	}, nil
}

// Rotate is a manual rotation by actor; see rotateKeySet for the two
// semantics. Scheduled (immediate false) it keeps the publish-ahead
// overlap and is idempotent: calling it again while a rotation is pending
// changes nothing. Immediate, a fresh key of the configured algorithm signs
// at once. Errors: KindConflict (concurrent_update when other writers kept
// winning), KindUnavailable.
func (m *KeyManager) Rotate(ctx context.Context, actor authserver.Actor, immediate bool) (RotateResult, error) {
	p := m.cfg.policy()
	var fresh *storage.SigningKey
	generate := func() error {
		k, err := m.NewKey(p.Algorithm)
		if err != nil {
			return err
		}
		fresh = &k
		return nil
	}
	if set := m.state.Load().set; immediate || indexOfState(&set, storage.KeyNext) < 0 {
		if err := generate(); err != nil {
			return RotateResult{}, err
		}
	}
	for {
		now := m.now()
		ks, _, err := m.update(ctx, actor, func(ks *storage.KeySet) ([]Event, error) {
			return rotateKeySet(ks, fresh, now, p, immediate)
		})
		if errors.Is(err, errNeedFreshKey) && fresh == nil {
			// The pending next key this instance saw is gone.
			if err := generate(); err != nil {
				return RotateResult{}, err
			}
			continue
		}
		if err != nil {
			return RotateResult{}, err
		}
		res := RotateResult{Immediate: immediate, Items: viewKeys(ks)}
		for _, k := range ks.Keys {
			switch k.State {
			case storage.KeyActive:
				res.ActiveKID = k.KID
			case storage.KeyNext:
				res.NextKID, res.ActivateAt = k.KID, optTime(k.ActivateAt)
			}
		}
		return res, nil
	}
}

// keyOp runs one operator transition on kid and returns the key's view
// afterwards.
func (m *KeyManager) keyOp(ctx context.Context, actor authserver.Actor, kid string, op func(*storage.KeySet, time.Time) ([]Event, error)) (KeyView, error) {
	now := m.now()
	ks, _, err := m.update(ctx, actor, func(ks *storage.KeySet) ([]Event, error) { return op(ks, now) })
	if err != nil {
		return KeyView{}, err
	}
	if i := indexOf(&ks, kid); i >= 0 {
		return viewKey(ks.Keys[i]), nil
	}
	return KeyView{KID: kid}, nil
}

// Discard makes key kid inactive (docs/credentials.md, "Expiry"): it
// leaves this instance's JWKS at once and every other instance's within
// the reload interval; online checks (Verify, so introspection and
// revocation) reject its tokens from then on,
// and offline verifiers once their cached JWKS expires (jwks_max_age).
// This is how a compromised key is pulled; the active key must first be
// replaced with Rotate(immediate). Errors: see discardKey; KindUnavailable.
func (m *KeyManager) Discard(ctx context.Context, actor authserver.Actor, kid string) (KeyView, error) {
	return m.keyOp(ctx, actor, kid, func(ks *storage.KeySet, now time.Time) ([]Event, error) {
		return discardKey(ks, kid, now)
	})
}

// Reactivate returns inactive key kid to the state it was discarded from
// (docs/architecture.md, "Signing-key rotation"). Errors: see
// reactivateKey; KindUnavailable.
func (m *KeyManager) Reactivate(ctx context.Context, actor authserver.Actor, kid string) (KeyView, error) {
	p := m.cfg.policy()
	return m.keyOp(ctx, actor, kid, func(ks *storage.KeySet, now time.Time) ([]Event, error) {
		return reactivateKey(ks, kid, now, p)
	})
}

// Delete destroys inactive key kid, private part included; tokens it
// signed can never verify again (docs/credentials.md, "Expiry"). Errors: see
// deleteKey; KindUnavailable.
func (m *KeyManager) Delete(ctx context.Context, actor authserver.Actor, kid string) error {
	_, err := m.keyOp(ctx, actor, kid, func(ks *storage.KeySet, _ time.Time) ([]Event, error) {
		return deleteKey(ks, kid)
	})
	return err
}

func (m *KeyManager) kekStatus(ks storage.KeySet, resealed int) KEKStatus {
	st := KEKStatus{CurrentKEKID: m.keyring.CurrentID(), SigningKeys: map[string]int{}, Resealed: resealed}
	for _, k := range ks.Keys {
		st.SigningKeys[k.Private.KEKID]++
	}
	return st
}

// KEKStatus reports which KEKs seal the stored signing keys. Errors:
// KindUnavailable.
func (m *KeyManager) KEKStatus(ctx context.Context) (KEKStatus, error) {
	ks, err := m.store.GetKeySet(ctx)
	if err != nil {
		return KEKStatus{}, authserver.StoreError(err)
	}
	return m.kekStatus(ks, 0), nil
}

// RotateKEK re-seals every private signing key under the current KEK,
// in one compare-and-swap write, while the server keeps
// signing. The procedure: configure every instance with the new kek and the
// old one in kek_previous (a rolling restart), call RotateKEK once, then
// drop the old KEK from kek_previous. It is idempotent. Errors: KindConflict
// kek_unknown when a key is sealed under a KEK this instance lacks (nothing
// is written), KindUnavailable.
func (m *KeyManager) RotateKEK(ctx context.Context, actor authserver.Actor) (KEKStatus, error) {
	ks, events, err := m.update(ctx, actor, func(ks *storage.KeySet) ([]Event, error) {
		return resealKeys(ks, m.keyring)
	})
	if err != nil {
		return KEKStatus{}, err
	}
	return m.kekStatus(ks, len(events)), nil
}
