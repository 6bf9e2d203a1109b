package users

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/storage"
)

// SubjectStore is what customer identifiers need of the database: the
// atomic app update that installs an app's key once.
type SubjectStore interface {
	GetApp(ctx context.Context, id string) (storage.App, error)
	UpdateApp(ctx context.Context, id string, update func(*storage.App) error) (storage.App, error)
}

// MaxCustomerIDLen bounds an app's own user id (the delegated customer_id,
// an assertion's sub, a test user's id), in bytes.
const MaxCustomerIDLen = 256

// customerKeySize is the size of an app's customer-identifier key: the
// HMAC-SHA-256 block-sized key is overkill, 256 bits is the hash's
// strength.
const customerKeySize = 32

// errKeyPresent aborts the key-installing update when another writer
// installed one first.
var errKeyPresent = errors.New("customer key present")

// Subjects turns an app's own user ids into opaque customer identifiers
// (docs/credentials.md, "Customer identifiers": unique, consistent,
// opaque): base64url(HMAC-SHA-256(k, id))
// under a per-app key k, kept sealed under the KEK in the app document. The
// same user of the same app gets the same identifier across time and
// restarts; another app gets another one; the id itself never leaves the
// server. An app's key is made on its first use. Opened keys are cached, so
// a token request reads the database only the first time an app needs a key.
type Subjects struct {
	store   SubjectStore
	clients *clients.Cache
	keyring *kek.Keyring
	// opened maps app id to its key, checked against the sealed value the
	// app carries so that a replaced key is never served from the cache.
	opened *lru.Cache[string, openedKey]
}

type openedKey struct {
	nonce string
	key   []byte
}

// NewSubjects returns the customer-identifier service.
func NewSubjects(store SubjectStore, clients *clients.Cache, keyring *kek.Keyring) *Subjects {
	opened, _ := lru.New[string, openedKey](10_000)
	return &Subjects{store: store, clients: clients, keyring: keyring, opened: opened}
}

// customerKeyAAD binds a sealed customer key to its app.
func customerKeyAAD(appID string) []byte { return []byte("customer_key/" + appID) }

// ValidCustomerID reports whether id can name a user: 1 to 256 bytes of
// printable UTF-8 (no control characters).
func ValidCustomerID(id string) bool {
	if id == "" || len(id) > MaxCustomerIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Subject returns the opaque customer identifier of userID under app,
// making the app's key first if it has none. Errors: KindInvalid for a
// malformed userID, KindUnavailable when the store cannot be reached.
func (s *Subjects) Subject(ctx context.Context, app *storage.App, userID string) (string, error) {
	if !ValidCustomerID(userID) {
		return "", authserver.NewError(authserver.KindInvalid, "invalid_customer_id", "a customer id is 1 to %d bytes of printable UTF-8", MaxCustomerIDLen)
	}
	key, err := s.key(ctx, app)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// key returns the app's opened customer key, installing one if needed.
func (s *Subjects) key(ctx context.Context, app *storage.App) ([]byte, error) {
	sealed := app.CustomerKey
	if sealed == nil {
		stored, err := s.install(ctx, app.ID)
		if err != nil {
			return nil, err
		}
		sealed = stored.CustomerKey
	}
	if k, ok := s.opened.Get(app.ID); ok && k.nonce == string(sealed.Nonce) {
		return k.key, nil
	}
	key, err := s.keyring.Open(*sealed, customerKeyAAD(app.ID))
	if err != nil {
		return nil, &authserver.Error{Kind: authserver.KindUnavailable, Code: "customer_key", Message: "the app's customer key cannot be opened", Err: err}
	}
	s.opened.Add(app.ID, openedKey{nonce: string(sealed.Nonce), key: key})
	return key, nil
}

// install gives the app a new sealed key unless it has one (one atomic
// update; a concurrent installer's key wins and is read back).
func (s *Subjects) install(ctx context.Context, appID string) (storage.App, error) {
	raw := make([]byte, customerKeySize)
	if _, err := rand.Read(raw); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	sealed := s.keyring.Seal(raw, customerKeyAAD(appID))
	stored, err := s.store.UpdateApp(ctx, appID, func(a *storage.App) error {
		if a.CustomerKey != nil {
			return errKeyPresent
		}
		a.CustomerKey = &sealed
		return nil
	})
	if errors.Is(err, errKeyPresent) {
		stored, err = s.store.GetApp(ctx, appID)
	}
	if err != nil {
		return storage.App{}, authserver.StoreError(fmt.Errorf("install customer key of %s: %w", appID, err))
	}
	if s.clients != nil {
		s.clients.Put(stored)
	}
	return stored, nil
}
