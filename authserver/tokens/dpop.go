package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/authserver/authserver/authserver/periodic"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/verifier/dpop"
)

// Token types of the token response (RFC 6749 §5.1) and of introspection
// (RFC 7662 §2.2): a bearer token (RFC 6750) or a DPoP-bound one (RFC
// 9449 §5).
const (
	TokenTypeBearer = "Bearer"
	TokenTypeDPoP   = "DPoP"
)

// dpopNonceHeader is the response header that carries a server nonce
// (RFC 9449 §8.1).
const dpopNonceHeader = "DPoP-Nonce"

// DPoPConfig configures DPoP at the token endpoint and
// /customer_authenticate.
type DPoPConfig struct {
	// Issuer is the issuer identifier; a proof's htu must be the public
	// URL of the endpoint it is sent to, Issuer followed by the
	// endpoint's path (as in the metadata, RFC 8414 §2).
	Issuer string
	// Algorithms are the alg values a proof may use (the metadata's
	// dpop_signing_alg_values_supported, RFC 9449 §5.1); empty: every one
	// dpop supports.
	Algorithms []string
	// Window is how far a proof's iat may be from the clock, either way
	// (RFC 9449 §11.1); 0: dpop's default, 60s.
	Window time.Duration
	// Replay remembers the proofs of issued tokens, so that each proof is
	// used once (RFC 9449 §11.1): a dpop.MemoryReplayCache on one
	// instance, a StoreReplayCache when several share the database.
	// Required.
	Replay dpop.ReplayCache
	// Nonces issues and checks the server nonces of apps that require
	// them (RFC 9449 §8). Required.
	Nonces *dpop.NonceSource
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DPoP binds the tokens of the grants to the key of the request's DPoP
// proof (RFC 9449 §5, §6.1) under each app's policy
// (storage.App.DPoPBoundAccessTokens, DPoPNonceRequired). A grant checks
// the proof as soon as it knows the app, before anything that costs much
// or writes (a password hash, a customer key made on first use); the
// proof is recorded in the replay cache only when the token is issued,
// like a user assertion's jti, so that a grant refused for any reason
// leaves no record, and of two requests with one proof exactly one gets a
// token. A refused proof is 400 invalid_dpop_proof; a missing or stale
// nonce 400 use_dpop_nonce with a fresh one (DPoPNonceOf).
type DPoP struct {
	verifier *dpop.Verifier
	replay   dpop.ReplayCache
	nonces   *dpop.NonceSource
	issuer   string
}

// NewDPoP returns the DPoP checks of the token endpoints. It fails when
// Replay or Nonces is missing or dpop.New refuses the configuration.
func NewDPoP(cfg DPoPConfig) (*DPoP, error) {
	if cfg.Replay == nil || cfg.Nonces == nil {
		return nil, errors.New("dpop: a replay cache and a nonce source are required")
	}
	v, err := dpop.New(dpop.Config{
		Algorithms: cfg.Algorithms, Window: cfg.Window, Replay: pendingReplay{}, Nonces: cfg.Nonces, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	return &DPoP{verifier: v, replay: cfg.Replay, nonces: cfg.Nonces, issuer: cfg.Issuer}, nil
}

// Algorithms returns the alg values proofs may use: the metadata's
// dpop_signing_alg_values_supported (RFC 9449 §5.1).
func (d *DPoP) Algorithms() []string { return d.verifier.Algorithms() }

// boundProof is a verified proof of a token request, kept in its session
// until the token is issued.
type boundProof struct {
	jkt string
	// key and expires are the proof's replay record, written by consume.
	key     string
	expires time.Time
	replay  dpop.ReplayCache
	// nonce, for an app that requires nonces, is the current one, sent
	// with the token (RFC 9449 §8.2) so that the client has it before
	// the one it used expires.
	nonce string
}

// check verifies the DPoP proof of the token request being served (the
// DPoP header fields of the HTTP request in ctx) for app, and keeps it in
// the request's session for issue. A request without a proof passes,
// unless the app's tokens must be bound. Errors: invalid_dpop_proof,
// use_dpop_nonce (400), server_error. A nil DPoP binds nothing.
func (d *DPoP) check(ctx context.Context, request fosite.AccessRequester, app *storage.App) error {
	if d == nil {
		return nil
	}
	sess, ok := request.GetSession().(*Session)
	r := requestOf(ctx)
	if !ok || r == nil {
		return fosite.ErrServerError.WithDebug("no session or HTTP request to check a DPoP proof with")
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) == 0 {
		if app.DPoPBoundAccessTokens {
			return errInvalidDPoPProof("This app's tokens are issued only with a DPoP proof (dpop_bound_access_tokens).")
		}
		return nil
	}
	pending := &pendingProof{}
	proof, err := d.verifier.Verify(context.WithValue(ctx, pendingKey{}, pending), dpop.Request{
		Proofs: proofs, Method: r.Method, URI: d.issuer + r.URL.EscapedPath(), RequireNonce: app.DPoPNonceRequired,
	})
	var refused *dpop.Error
	switch {
	case errors.As(err, &refused) && refused.Code == dpop.CodeUseNonce:
		return (&fosite.RFC6749Error{
			ErrorField: dpop.CodeUseNonce, CodeField: http.StatusBadRequest,
			DescriptionField: "Authorization server requires nonce in DPoP proof: use the one in the DPoP-Nonce header.",
		}).WithWrap(refused)
	case errors.As(err, &refused):
		return errInvalidDPoPProof("DPoP proof refused: " + refused.Description + ".").WithWrap(refused)
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	sess.dpop = &boundProof{jkt: proof.JKT, key: pending.key, expires: pending.expires, replay: d.replay}
	if app.DPoPNonceRequired {
		sess.dpop.nonce = d.nonces.Nonce()
	}
	return nil
}

// errInvalidDPoPProof is RFC 9449's error for a missing or refused proof
// at the token endpoint (§5, §12.2), with description.
func errInvalidDPoPProof(description string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: dpop.CodeInvalidProof, DescriptionField: description, CodeField: http.StatusBadRequest}
}

// consume records the proof in the replay cache just before its token is
// issued. Errors: invalid_dpop_proof when it was used before (a replay,
// or a concurrent request with the same proof that got here first),
// temporarily_unavailable (503) when the cache cannot answer.
func (p *boundProof) consume(ctx context.Context) error {
	seen, err := p.replay.Seen(ctx, p.key, p.expires)
	if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithHint("The DPoP proof cannot be checked right now; retry later.").WithWrap(err)
	}
	if seen {
		return errInvalidDPoPProof("DPoP proof refused: proof already used.").WithWrap(dpop.ErrReplay)
	}
	return nil
}

// DPoPNonceOf returns the nonce to send in the DPoP-Nonce header (RFC
// 9449 §8.1) with the error of a token request: the fresh nonce of a
// use_dpop_nonce error, "" for any other error.
func DPoPNonceOf(err error) string {
	var refused *dpop.Error
	if errors.As(err, &refused) {
		return refused.Nonce
	}
	return ""
}

// SetDPoPNonce sets the DPoP-Nonce header of a successful token response
// when the request's app requires nonces (RFC 9449 §8.2: a fresh nonce
// before the client's expires), and of an error response that carries one
// (DPoPNonceOf). req or err may be nil.
func SetDPoPNonce(h http.Header, req fosite.AccessRequester, err error) {
	if n := DPoPNonceOf(err); n != "" {
		h.Set(dpopNonceHeader, n)
		return
	}
	if req == nil {
		return
	}
	if s, ok := req.GetSession().(*Session); ok && s.dpop != nil && s.dpop.nonce != "" {
		h.Set(dpopNonceHeader, s.dpop.nonce)
	}
}

// pendingProof receives the replay record of the proof Verify accepts, so
// that it is written only when the token is issued (boundProof.consume).
type pendingProof struct {
	key     string
	expires time.Time
}

type pendingKey struct{}

// pendingReplay is the replay cache of the token endpoint's verifier: it
// hands the record to the request's pendingProof and reports it unseen;
// the real cache answers when the token is issued.
type pendingReplay struct{}

func (pendingReplay) Seen(ctx context.Context, key string, expires time.Time) (bool, error) {
	p, ok := ctx.Value(pendingKey{}).(*pendingProof)
	if !ok {
		return false, errors.New("dpop: no pending proof in the context")
	}
	p.key, p.expires = key, expires
	return false, nil
}

// DPoPReplayStore is what StoreReplayCache needs of the database.
type DPoPReplayStore interface {
	ClaimDPoPProof(ctx context.Context, p storage.DPoPProof, now time.Time) error
	SweepDPoPProofs(ctx context.Context, now time.Time) (int64, error)
}

// StoreReplayCache is a dpop.ReplayCache in the database (the dpop_jti
// collection), for instances that share it: a proof accepted by one is
// refused by every other. Each new proof costs one insert, a replay an
// insert refused by the unique _id (and, for a record past its expiry, a
// delete and a second insert). Safe for concurrent use.
type StoreReplayCache struct {
	store DPoPReplayStore
	now   func() time.Time
	sweep time.Duration
	log   *slog.Logger
}

var _ dpop.ReplayCache = (*StoreReplayCache)(nil)

// NewStoreReplayCache returns the database replay cache. Run sweeps
// expired records every sweepEvery of the clock now.
func NewStoreReplayCache(store DPoPReplayStore, sweepEvery time.Duration, now func() time.Time, log *slog.Logger) *StoreReplayCache {
	return &StoreReplayCache{store: store, now: now, sweep: sweepEvery, log: log}
}

// Seen implements dpop.ReplayCache: it records key until expires (rounded
// up to the database's millisecond) and reports whether a live record of
// key existed. An error is the database's.
func (c *StoreReplayCache) Seen(ctx context.Context, key string, expires time.Time) (bool, error) {
	exp := expires.Truncate(time.Millisecond)
	if exp.Before(expires) {
		exp = exp.Add(time.Millisecond)
	}
	err := c.store.ClaimDPoPProof(ctx, storage.DPoPProof{ID: key, Exp: exp}, c.now())
	switch {
	case errors.Is(err, storage.ErrDuplicate):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("dpop replay cache: %w", err)
	}
	return false, nil
}

// Run deletes expired records each time the clock has moved the sweep
// interval, until ctx ends. Claims ignore expired records whether or not
// they were swept.
func (c *StoreReplayCache) Run(ctx context.Context) {
	periodic.OnClock(ctx, c.now, c.sweep, func() {
		if n, err := c.store.SweepDPoPProofs(ctx, c.now()); err != nil && ctx.Err() == nil {
			c.log.Warn("dpop proofs not swept", "err", err)
		} else if n > 0 {
			c.log.Debug("swept dpop proofs", "deleted", n)
		}
	})
}
