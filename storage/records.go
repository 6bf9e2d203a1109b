package storage

import "time"

// App is an OAuth 2.0 client (RFC 6749 §2) registered by the account: the
// App ID is its public, permanent client_id. Its secrets live inside the
// same document so that every rule that spans several secrets (at most two
// active, one inactive, at least one active) is enforced by one atomic
// update.
type App struct {
	ID          string `bson:"_id"`
	Name        string `bson:"name"`
	Environment string `bson:"environment"` // "live" or "test"
	// Scopes are the OAuth scopes the app may request (RFC 6749 §3.3).
	Scopes []string `bson:"scopes"`
	// Audiences are the resource indicators the app may request as "aud"
	// (RFC 8707, RFC 9068 §3).
	Audiences []string `bson:"audiences"`
	// Origins are the browser origins allowed to receive CORS headers for the
	// app's appUser tokens (docs/credentials.md, "Browsers").
	Origins []string `bson:"origins,omitempty"`
	// AccessTokenLifetime overrides the server default for client
	// credentials tokens; zero means the default.
	AccessTokenLifetime time.Duration `bson:"access_token_lifetime,omitempty"`
	// UserTokenLifetime overrides the default lifetime of appUser tokens;
	// zero means the default.
	UserTokenLifetime time.Duration `bson:"user_token_lifetime,omitempty"`
	Enabled           bool          `bson:"enabled"`
	Secrets           []Secret      `bson:"secrets"`
	// JWKS is an inline JSON Web Key Set (RFC 7517) of the app's own public
	// keys, for private_key_jwt and signed user assertions (RFC 7523).
	JWKS []byte `bson:"jwks,omitempty"`
	// JWKSURI is where the app publishes its public keys instead.
	JWKSURI string `bson:"jwks_uri,omitempty"`
	// SecretSigning opts the app into HS256 assertions signed with one of its
	// secrets; its secrets are then also kept encrypted (Secret.Sealed).
	SecretSigning bool `bson:"secret_signing,omitempty"`
	// DPoPBoundAccessTokens: the app's tokens are issued only to requests
	// that carry a DPoP proof, and bound to its key (RFC 9449 §5.2, the
	// client metadata of the same name); otherwise a proof is optional.
	DPoPBoundAccessTokens bool `bson:"dpop_bound_access_tokens,omitempty"`
	// DPoPNonceRequired: the app's DPoP proofs must carry a nonce this
	// server issued (RFC 9449 §8).
	DPoPNonceRequired bool `bson:"dpop_nonce_required,omitempty"`
	// CustomerKey is the sealed per-app HMAC key of customer identifiers
	// (docs/credentials.md, "Customer identifiers").
	CustomerKey *Sealed `bson:"customer_key,omitempty"`

	Version   int64     `bson:"version"`
	CreatedAt time.Time `bson:"created_at"`
	// UpdatedAt is set by the database server on every write, so that
	// instances with skewed clocks agree on change order.
	UpdatedAt time.Time `bson:"updated_at"`
}

// Secret states.
const (
	SecretActive   = "active"
	SecretInactive = "inactive"
)

// Secret is one secret key of an App (docs/credentials.md, "Secret
// keys"). The plaintext is never stored: Digest is its SHA-256.
type Secret struct {
	ID     string `bson:"id"`
	Digest []byte `bson:"digest"`
	// Prefix and Last4 are what listings show of the secret.
	Prefix string `bson:"prefix"`
	Last4  string `bson:"last4"`
	Status string `bson:"status"`
	// ExpiresAt ends a rotated secret's grace period; zero means no expiry.
	ExpiresAt   time.Time `bson:"expires_at,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	DiscardedAt time.Time `bson:"discarded_at,omitempty"`
	// Sealed holds the secret encrypted under the KEK, only for apps with
	// SecretSigning (HS256 assertions need the key itself).
	Sealed *Sealed `bson:"sealed,omitempty"`
}

// Sealed is a value encrypted with AES-256-GCM under the key-encryption key
// named by KEKID.
type Sealed struct {
	KEKID      string `bson:"kek_id"`
	Nonce      []byte `bson:"nonce"`
	Ciphertext []byte `bson:"ciphertext"`
}

// SecretUsage records when a secret last authenticated a client. It is kept
// apart from the App so that bookkeeping never changes App.Version.
type SecretUsage struct {
	SecretID   string    `bson:"_id"`
	AppID      string    `bson:"app_id"`
	LastUsedAt time.Time `bson:"last_used_at"`
}

// Signing key states (docs/architecture.md, "Signing-key rotation").
const (
	KeyNext     = "next"
	KeyActive   = "active"
	KeyRetired  = "retired"
	KeyInactive = "inactive"
)

// KeySetID is the _id of the single key-set document.
const KeySetID = "signing"

// KeySet is every signing key of the server in one document, so that
// promotion, retirement and discard are one compare-and-swap on Version.
type KeySet struct {
	ID      string       `bson:"_id"`
	Version int64        `bson:"version"`
	Keys    []SigningKey `bson:"keys"`
	// UpdatedAt is set by the database server on every write.
	UpdatedAt time.Time `bson:"updated_at"`
}

// SigningKey is one JWS signing key (RFC 7515) and its life.
type SigningKey struct {
	KID       string `bson:"kid"`
	Algorithm string `bson:"alg"`
	State     string `bson:"state"`
	// PublicJWK is the public key as a JSON Web Key (RFC 7517 §4).
	PublicJWK []byte `bson:"public_jwk"`
	// Private is the PKCS #8 private key, sealed with AAD = KID.
	Private   Sealed    `bson:"private"`
	CreatedAt time.Time `bson:"created_at"`
	// PublishedAt is when the key entered the JWKS.
	PublishedAt time.Time `bson:"published_at"`
	// ActivateAt is when a next key may start signing.
	ActivateAt  time.Time `bson:"activate_at,omitempty"`
	ActivatedAt time.Time `bson:"activated_at,omitempty"`
	RetiredAt   time.Time `bson:"retired_at,omitempty"`
	// RemoveAt is when a retired key leaves the JWKS: every token it signed
	// has expired by then.
	RemoveAt    time.Time `bson:"remove_at,omitempty"`
	DiscardedAt time.Time `bson:"discarded_at,omitempty"`
	// PriorState is the state a discarded key returns to on reactivation.
	PriorState string `bson:"prior_state,omitempty"`
}

// AccountID is the _id of the account document.
const AccountID = "default"

// Account holds the account keys (account-scoped credentials,
// docs/credentials.md, "Scopes of a credential") in one document, so that
// rules over all keys (an owner always remains) are one compare-and-swap.
type Account struct {
	ID        string       `bson:"_id"`
	Version   int64        `bson:"version"`
	Keys      []AccountKey `bson:"keys"`
	UpdatedAt time.Time    `bson:"updated_at"`
}

// Account key roles.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// AccountKey is a credential for the admin API. Digest is the SHA-256 of
// the plaintext key, which is shown once.
type AccountKey struct {
	ID        string    `bson:"id"`
	Name      string    `bson:"name"`
	Role      string    `bson:"role"`
	Digest    []byte    `bson:"digest"`
	Prefix    string    `bson:"prefix"`
	Last4     string    `bson:"last4"`
	CreatedAt time.Time `bson:"created_at"`
	CreatedBy string    `bson:"created_by,omitempty"`
}

// AuditEvent is one credential lifecycle event. It never holds key material.
type AuditEvent struct {
	ID     string    `bson:"_id"`
	Time   time.Time `bson:"time"`
	Actor  string    `bson:"actor"` // account key id, or "scheduler", or "system"
	Action string    `bson:"action"`
	// Target is what the action touched: an app id, a secret id, a kid.
	Target  string            `bson:"target"`
	AppID   string            `bson:"app_id,omitempty"`
	Source  string            `bson:"source,omitempty"` // client address
	Outcome string            `bson:"outcome"`          // "success" or an error code
	Detail  map[string]string `bson:"detail,omitempty"`
}

// AuditFilter selects audit events; empty fields match everything.
type AuditFilter struct {
	AppID  string
	Actor  string
	Action string
	// Before pages backwards: only events older than this id.
	Before string
	Limit  int
}

// Page selects a slice of a listing ordered by _id: items after After, at
// most Limit of them.
type Page struct {
	After string
	Limit int
}

// AppFilter selects apps for ListApps.
type AppFilter struct {
	// NamePrefix matches apps whose name starts with it (case-sensitive).
	NamePrefix string
	Page
}

// AppChange records that an app was written: the change log that caches on
// every instance poll. It is kept apart from the apps so that a poll reads
// only recent changes, whatever the number of apps (FerretDB v1 cannot push
// a range query on apps.updated_at down to an index: polling the apps
// themselves read all 100,000 of them every interval).
type AppChange struct {
	ID string `bson:"_id"`
	// AppID is the app written, or "" for a batch of ImportApps: new
	// apps, not listed, so that an import of 100,000 apps adds 100 records
	// for every poll to read rather than 100,000.
	AppID string `bson:"app_id"`
	// At is the database server's clock when the change was recorded,
	// just before the app itself was written.
	At time.Time `bson:"at"`
}

// AssertionJTI records that an app-signed JWT (an RFC 7523 client assertion
// or authorization grant) was used, until its exp (RFC 7523 §3: "maintaining
// the set of used jti values for the length of time for which the JWT would
// be considered valid based on the applicable exp instant"). The unique _id
// is what makes "first use wins" atomic.
type AssertionJTI struct {
	// ID is derived from the issuing app and the jti by the caller.
	ID    string    `bson:"_id"`
	AppID string    `bson:"app_id"`
	Exp   time.Time `bson:"exp"`
	// ExpTTL duplicates Exp for the housekeeping TTL index where the
	// server has one; queries and SweepAssertionJTIs never rely on it.
	ExpTTL    time.Time `bson:"exp_ttl"`
	CreatedAt time.Time `bson:"created_at"`
}

// DPoPProof records that a DPoP proof (RFC 9449) was accepted, until
// the end of the window in which its iat is accepted, so that it is
// accepted once (RFC 9449 §11.1) by every instance sharing the database.
// The unique _id is what makes "first use wins" atomic.
type DPoPProof struct {
	// ID is the proof's replay key (43 base64url characters, a hash of
	// its key, htu and jti; see verifier/dpop): no client-chosen text.
	ID  string    `bson:"_id"`
	Exp time.Time `bson:"exp"`
	// ExpTTL duplicates Exp for the housekeeping TTL index where the
	// server has one; queries and SweepDPoPProofs never rely on it.
	ExpTTL time.Time `bson:"exp_ttl"`
}

// Customer is a test user registered under an app (docs/credentials.md,
// "Test users": test harnesses fetch a user's token by logging in as one).
// A username is unique within its app.
type Customer struct {
	ID       string `bson:"_id"`
	AppID    string `bson:"app_id"`
	Username string `bson:"username"`
	// Subject is the user's opaque customer identifier (docs/credentials.md,
	// "Customer identifiers"), the "sub" of its tokens. The app's own user id it was derived from is
	// not stored.
	Subject string `bson:"subject"`
	// PasswordHash is an argon2id hash in PHC string format; never the
	// password.
	PasswordHash string    `bson:"password_hash"`
	CreatedAt    time.Time `bson:"created_at"`
}

// CustomerPage selects a slice of an app's test users ordered by username:
// those after After, at most Limit (default 100).
type CustomerPage struct {
	AppID string
	Page
}

// IdempotencyRecord remembers one create request made with an
// Idempotency-Key header, so that a retry of it never creates a second
// resource. It holds the ids the request creates, assigned before the
// request runs, and never the plaintext of a secret: a replay shows the
// resource masked.
type IdempotencyRecord struct {
	// ID is the actor's id and a digest of the key: keys are per actor.
	ID      string `bson:"_id"`
	Version int64  `bson:"version"`
	Actor   string `bson:"actor"`
	// Operation is the audit action of the request, e.g. "secret.create".
	Operation string `bson:"operation"`
	// Fingerprint is a digest of the operation, its target and its input:
	// the same key sent with another request is refused.
	Fingerprint []byte `bson:"fingerprint"`
	// AppID, SecretID and KeyID are the ids the request creates (or acts
	// on): pre-assigned, so that running it twice finds the first run's
	// resource instead of making another.
	AppID    string `bson:"app_id,omitempty"`
	SecretID string `bson:"secret_id,omitempty"`
	KeyID    string `bson:"key_id,omitempty"`
	// Done is set once the request has succeeded; a done record is only
	// ever replayed.
	Done      bool      `bson:"done"`
	CreatedAt time.Time `bson:"created_at"`
	// Exp ends the record: queries ignore it from then on and Sweep
	// deletes it.
	Exp time.Time `bson:"exp"`
	// ExpTTL repeats Exp for the housekeeping TTL index where the server
	// has one (MongoDB); it is set by ClaimIdempotency.
	ExpTTL time.Time `bson:"exp_ttl"`
}

// Revoked is one entry of the access-token denylist (RFC 7009): the token's
// jti, kept until the token's own exp, after which the token is dead anyway
// and the entry is swept.
type Revoked struct {
	// JTI is the revoked token's "jti" (RFC 7519 §4.1.7); unique.
	JTI string `bson:"_id"`
	// ClientID is the client the token was issued to.
	ClientID string `bson:"client_id"`
	// ExpiresAt is the token's "exp"; the entry is useless after it.
	ExpiresAt time.Time `bson:"exp"`
	// ExpTTL repeats ExpiresAt for a housekeeping TTL index on databases
	// that have one; queries never rely on it.
	ExpTTL time.Time `bson:"exp_ttl"`
	// CreatedAt is set by the database server when the entry is written,
	// so that instances with skewed clocks agree on the order in which
	// they poll entries.
	CreatedAt time.Time `bson:"created_at"`
}

// RevokedCursor is a position in the denylist ordered by (created_at,
// _id): entries strictly after it are read next. The zero cursor is before
// every entry.
type RevokedCursor struct {
	CreatedAt time.Time
	JTI       string
}
