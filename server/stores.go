package server

import (
	"github.com/authserver/authserver/authserver/accounts"
	"github.com/authserver/authserver/authserver/apps"
	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/audit"
	"github.com/authserver/authserver/authserver/clients"
	"github.com/authserver/authserver/authserver/idempotency"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/authserver/tokens"
	"github.com/authserver/authserver/authserver/users"
	"github.com/authserver/authserver/handlers"
	"github.com/authserver/authserver/metrics"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/mongodb"
)

// The server hands one storage.Store to every service; each declares the
// few methods it needs. These lines make the compiler check that the
// contract covers them all, in one place.
var (
	_ accounts.Store         = storage.Store(nil)
	_ apps.Store             = storage.Store(nil)
	_ apps.AssertionKeyStore = storage.Store(nil)
	_ assertion.ReplayStore  = storage.Store(nil)
	_ audit.Store            = storage.Store(nil)
	_ clients.Store          = storage.Store(nil)
	_ clients.OriginStore    = storage.Store(nil)
	_ clients.UsageStore     = storage.Store(nil)
	_ idempotency.Store      = storage.Store(nil)
	_ signingkeys.Store      = storage.Store(nil)
	_ tokens.RevocationStore = storage.Store(nil)
	_ users.SubjectStore     = storage.Store(nil)
	_ users.TestUserStore    = storage.Store(nil)
	_ handlers.Pinger        = storage.Store(nil)

	_ metrics.StoreMonitor = (*mongodb.Monitor)(nil)
)
