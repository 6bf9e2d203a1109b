package assertion

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/authserver/users"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/verifier"
)

// ReplayStore is what replay protection of assertions needs of the
// database: a look-up, a first-use-wins record (unique _id insert) kept
// until the assertion's exp, and a sweep of expired records.
type ReplayStore interface {
	AssertionJTISeen(ctx context.Context, id string, now time.Time) (bool, error)
	ClaimAssertionJTI(ctx context.Context, r storage.AssertionJTI, now time.Time) error
	SweepAssertionJTIs(ctx context.Context, now time.Time) (int64, error)
}

// Config configures the verification of app-signed JWTs.
type Config struct {
	// Audiences are the values an assertion's aud may name, one of which
	// it must: the issuer and the endpoints that take assertions (RFC 7523
	// §3: "the token endpoint URL of the authorization server MAY be used
	// as a value for an aud element").
	Audiences []string
	// ClockSkew is tolerated on exp, iat and nbf (default 30s).
	ClockSkew time.Duration
	// MaxLifetime bounds how far ahead exp may be (default 60m;
	// docs/credentials.md, "Secure mode").
	MaxLifetime time.Duration
	// SweepInterval is how often expired jti records are deleted
	// (default 1m).
	SweepInterval time.Duration
	// Now is the clock of every check (default time.Now).
	Now func() time.Time
}

// MaxAssertionBytes bounds an assertion, in bytes: a longer one is
// refused before it is parsed.
const MaxAssertionBytes = 8 << 10

// maxJTILen bounds an assertion's jti, in bytes.
const maxJTILen = 256

// Verifier verifies JWTs that apps sign themselves (RFC 7523): client
// assertions (§2.2, private_key_jwt and client_secret_jwt) and user
// assertions exchanged for appUser tokens (§2.1; docs/credentials.md,
// "Secure mode"). The signing key is one of the app's registered public keys
// (inline JWKS or jwks_uri) or, for HS256, one of its usable secrets kept
// sealed (App.SecretSigning), named by kid; discarding the secret or
// removing the key stops its assertions at once. Rules (RFC 7523 §3): iss
// is the app, aud names this server, exp is present and at most
// MaxLifetime ahead, iat is present, and the jti was never used (§3 item 7).
// The jti is recorded until exp by a first-use-wins insert, so that of two
// concurrent uses exactly one succeeds: a client assertion's as soon as it
// has authenticated the client, at whichever endpoint, before any answer;
// a user assertion's when its token is issued, so that a grant refused for
// another reason leaves no trace.
type Verifier struct {
	cfg     Config
	clients *clients.Cache
	keyring *kek.Keyring
	jwks    *AppJWKS
	replay  ReplayStore
	usage   *clients.UsageRecorder
	log     *slog.Logger
}

// NewVerifier returns the assertion verifier; usage records the use of
// secrets that sign HS256 assertions.
func NewVerifier(cfg Config, clients *clients.Cache, keyring *kek.Keyring, jwks *AppJWKS, replay ReplayStore, usage *clients.UsageRecorder, log *slog.Logger) *Verifier {
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = 30 * time.Second
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = time.Hour
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, clients: clients, keyring: keyring, jwks: jwks, replay: replay, usage: usage, log: log}
}

// Run deletes expired jti records every SweepInterval until ctx ends.
func (a *Verifier) Run(ctx context.Context) {
	periodic.Every(ctx, a.cfg.SweepInterval, a.log, "assertion jti sweep", func(ctx context.Context) error {
		_, err := a.replay.SweepAssertionJTIs(ctx, a.cfg.Now())
		return err
	})
}

// Kind says which RFC 7523 use an assertion serves; it decides
// the error code (invalid_client for client authentication, §3.2;
// invalid_grant for an authorization grant, §3.1) and the sub rule.
type Kind int

// Kinds of assertion.
const (
	// ClientAssertion authenticates the app itself (§2.2): sub = iss.
	ClientAssertion Kind = iota + 1
	// UserAssertion names one of the app's users for an appUser token
	// (§2.1, the JWT bearer grant): sub is the user, never iss.
	UserAssertion
)

func (k Kind) fail(hint string) error {
	if k == ClientAssertion {
		return fosite.ErrInvalidClient.WithHint(hint)
	}
	return fosite.ErrInvalidGrant.WithHint(hint)
}

// hintUnverifiable is the one hint for every failure that concerns who
// signed: unknown or disabled app, no such key or secret, bad signature.
const hintUnverifiable = "The assertion's signature could not be verified with a key registered by its issuer."

// Verified is an assertion whose signature and claims checked out.
type Verified struct {
	// App is the issuer, as cached; callers must not modify it.
	App *storage.App
	// Subject is the sub claim: the client itself, or the app's user.
	Subject string
	// Signer is the secret or the key that signed it.
	Signer Signer
	// Alg is the header's alg (RFC 7518 §3.1, or RFC 9864's "Ed25519").
	Alg string
	// JTI is the assertion's jti record, to Consume before the
	// assertion counts as used.
	JTI *PendingJTI
}

// PendingJTI is an assertion's jti, to record when the assertion is used.
type PendingJTI struct {
	replay ReplayStore
	rec    storage.AssertionJTI
	kind   Kind
	now    func() time.Time
}

// Consume records the jti; a concurrent or earlier use makes it fail with
// the kind's error.
func (p *PendingJTI) Consume(ctx context.Context) error {
	err := p.replay.ClaimAssertionJTI(ctx, p.rec, p.now())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrDuplicate):
		return p.kind.fail("The assertion's jti was used before (RFC 7523 §3).")
	default:
		return fosite.ErrTemporarilyUnavailable.WithHint("The assertion cannot be checked for replay right now; retry later.").WithWrap(err)
	}
}

// SecretUse returns what records the use of the secret that signed va, to
// run once a token is issued; nil when no secret signed it.
func (a *Verifier) SecretUse(va *Verified) func() {
	if va.Signer.SecretID == "" || a.usage == nil {
		return nil
	}
	appID, secretID, now := va.App.ID, va.Signer.SecretID, a.cfg.Now()
	return func() { a.usage.Touch(appID, secretID, now) }
}

// jtiRecordID scopes a jti to its issuer (RFC 7519 §4.1.7: unique per
// issuer) and bounds its length.
func jtiRecordID(appID, jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return appID + "/" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// assertionClaims are the claims RFC 7523 §3 rules on.
type assertionClaims struct {
	jwt.Claims
}

// Verify checks raw, a compact JWS of at most MaxAssertionBytes, as an
// assertion of kind: the signature against the issuer's registered keys
// or sealed secrets, then RFC 7523 §3's rules (see Verifier). A user
// assertion's jti is looked up but not recorded; the caller consumes
// JTI when the assertion is used. Errors are fosite errors: invalid_client
// or invalid_grant by kind, temporarily_unavailable when the app or the
// replay records cannot be read.
func (a *Verifier) Verify(ctx context.Context, raw string, kind Kind) (*Verified, error) {
	if len(raw) > MaxAssertionBytes {
		return nil, kind.fail("The assertion is too long.")
	}
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil {
		var unexpected *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &unexpected) {
			return nil, kind.fail(fmt.Sprintf("The assertion's alg must be one of %v.", AssertionSigningAlgs()))
		}
		return nil, kind.fail("The assertion is not a compact JWS.")
	}
	if len(tok.Headers) != 1 {
		return nil, kind.fail("The assertion must have exactly one signature.")
	}
	hdr := tok.Headers[0]
	if kind == UserAssertion && isClientAssertionType(hdr) {
		return nil, kind.fail("A client assertion (typ client-authentication+jwt) is not a user assertion.")
	}
	var unverified assertionClaims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, kind.fail("The assertion's claims are malformed.")
	}
	iss := unverified.Issuer
	if iss == "" || len(iss) > credential.MaxAppIDLen || credential.EnvOf(iss) == "" {
		return nil, kind.fail("The assertion's iss must be an App ID.")
	}
	entry, err := a.clients.Get(ctx, iss)
	if errors.Is(err, authserver.ErrStoreUnavailable) {
		return nil, clients.UnavailableError()
	}
	if err != nil || !entry.App().Enabled {
		return nil, kind.fail(hintUnverifiable)
	}
	app := entry.App()
	now := a.cfg.Now()
	var claims assertionClaims
	signer, ok, err := a.verifySignature(ctx, tok, hdr, entry, now, &claims)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, kind.fail(hintUnverifiable)
	}
	if err := a.checkClaims(kind, &claims, app.ID, now); err != nil {
		return nil, err
	}
	rec := storage.AssertionJTI{
		ID: jtiRecordID(app.ID, claims.ID), AppID: app.ID,
		// Kept as long as the assertion could pass: exp plus the skew.
		Exp:       claims.Expiry.Time().Add(a.cfg.ClockSkew).UTC(),
		CreatedAt: now.UTC(),
	}
	if kind == UserAssertion {
		// A used grant assertion fails before the grant does any work;
		// a client assertion is claimed right away, which says the same.
		seen, err := a.replay.AssertionJTISeen(ctx, rec.ID, now)
		if err != nil {
			return nil, fosite.ErrTemporarilyUnavailable.WithHint("The assertion cannot be checked for replay right now; retry later.").WithWrap(err)
		}
		if seen {
			return nil, kind.fail("The assertion's jti was used before (RFC 7523 §3).")
		}
	}
	return &Verified{
		App: app, Subject: claims.Subject, Signer: signer, Alg: hdr.Algorithm,
		JTI: &PendingJTI{replay: a.replay, rec: rec, kind: kind, now: a.cfg.Now},
	}, nil
}

// Signer is the registered credential that signed an assertion:
// one of the app's sealed secrets (HS256) or one of its public keys.
type Signer struct {
	// SecretID is the secret's id, else "".
	SecretID string
	// KeyThumbprint is the key's RFC 7638 thumbprint (clients.Thumbprint),
	// else "".
	KeyThumbprint string
}

// verifySignature finds the keys the header names among the app's and
// decodes the claims with the first that verifies, which it reports. An
// error is returned only for an unreachable store.
func (a *Verifier) verifySignature(ctx context.Context, tok *jwt.JSONWebToken, hdr jose.Header, entry *clients.CachedApp, now time.Time, out *assertionClaims) (Signer, bool, error) {
	app := entry.App()
	if hdr.Algorithm == string(jose.HS256) {
		if !app.SecretSigning {
			return Signer{}, false, nil
		}
		for i, s := range app.Secrets {
			if s.Sealed == nil || !entry.SecretUsable(i, now) || (hdr.KeyID != "" && hdr.KeyID != s.ID) {
				continue
			}
			key, err := a.keyring.Open(*s.Sealed, []byte(app.ID+"/"+s.ID))
			if err != nil {
				a.log.Error("sealed secret cannot be opened", "app_id", app.ID, "secret_id", s.ID, "err", err)
				continue
			}
			if tok.Claims(key, out) == nil {
				return Signer{SecretID: s.ID}, true, nil
			}
		}
		return Signer{}, false, nil
	}
	try := func(k jose.JSONWebKey) bool {
		return (hdr.KeyID == "" || k.KeyID == hdr.KeyID) && assertionKeyFits(k, hdr.Algorithm) &&
			tok.Claims(verificationKey(k, hdr.Algorithm), out) == nil
	}
	switch {
	case len(app.JWKS) > 0:
		keys, thumbprints := entry.InlineKeys()
		for i, k := range keys {
			if try(k) {
				return Signer{KeyThumbprint: thumbprints[i]}, true, nil
			}
		}
	case app.JWKSURI != "":
		keys, err := a.jwks.Keys(ctx, app.ID, app.Version, app.JWKSURI, hdr.KeyID)
		if err != nil && !errors.Is(err, verifier.ErrUnknownKey) {
			a.log.Warn("app jwks_uri not fetched", "app_id", app.ID, "err", err)
		}
		for _, k := range keys {
			if !try(k) {
				continue
			}
			tp, err := clients.Thumbprint(k)
			if err != nil {
				return Signer{}, false, nil
			}
			return Signer{KeyThumbprint: tp}, true, nil
		}
	}
	return Signer{}, false, nil
}

// isClientAssertionType reports whether hdr's typ is the explicit type of
// client assertions, client-authentication+jwt (draft-ietf-oauth-rfc7523bis,
// explicit typing; RFC 8725 §3.11), compared as RFC 7515 §4.1.9 says:
// case-insensitive, "application/" optional. Client assertions without it
// (no typ, or "JWT", as most clients send them) are told apart by sub =
// iss alone.
func isClientAssertionType(hdr jose.Header) bool {
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == "client-authentication+jwt"
}

// checkClaims applies RFC 7523 §3 to verified claims.
func (a *Verifier) checkClaims(kind Kind, c *assertionClaims, appID string, now time.Time) error {
	skew := a.cfg.ClockSkew
	switch kind {
	case ClientAssertion:
		if c.Subject != appID {
			return kind.fail("A client assertion's sub must equal its iss, the client_id (RFC 7523 §3).")
		}
	case UserAssertion:
		if !users.ValidCustomerID(c.Subject) {
			return kind.fail(fmt.Sprintf("The assertion's sub must name the user: 1 to %d bytes of printable UTF-8.", users.MaxCustomerIDLen))
		}
		// sub = iss is what makes a client assertion (RFC 7523 §3 item
		// 2.B): refused here, a client assertion, captured or not yet
		// used, never buys a user token without client authentication.
		if c.Subject == appID {
			return kind.fail("A user assertion's sub names the user and must differ from its iss; sub = iss is a client assertion.")
		}
	}
	if !slices.ContainsFunc(a.cfg.Audiences, func(aud string) bool { return slices.Contains(c.Audience, aud) }) {
		return kind.fail("The assertion's aud must name this server's issuer or token endpoint (RFC 7523 §3).")
	}
	if c.Expiry == nil {
		return kind.fail("The assertion must have an exp claim.")
	}
	exp := c.Expiry.Time()
	if !now.Before(exp.Add(skew)) {
		return kind.fail("The assertion has expired.")
	}
	if exp.After(now.Add(a.cfg.MaxLifetime + skew)) {
		return kind.fail(fmt.Sprintf("The assertion's exp may be at most %v ahead.", a.cfg.MaxLifetime))
	}
	if c.IssuedAt == nil {
		return kind.fail("The assertion must have an iat claim.")
	}
	if c.IssuedAt.Time().After(now.Add(skew)) {
		return kind.fail("The assertion's iat is in the future.")
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(skew)) {
		return kind.fail("The assertion is not valid yet (nbf).")
	}
	if c.ID == "" || len(c.ID) > maxJTILen {
		return kind.fail(fmt.Sprintf("This server requires a jti of 1 to %d bytes in every assertion, to refuse replays (RFC 7523 §3 makes it optional).", maxJTILen))
	}
	return nil
}
