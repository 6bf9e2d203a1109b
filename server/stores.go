package server

import (
	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/handlers"
	"github.com/authserver/authserver/metrics"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/mongodb"
)

// The server hands one storage.Store to every service; each declares the
// few methods it needs. These lines make the compiler check that the
// contract covers them all, in one place.
var (
	_ authserver.AccountStore      = storage.Store(nil)
	_ authserver.AppStore          = storage.Store(nil)
	_ authserver.AppsStore         = storage.Store(nil)
	_ authserver.AssertionKeyStore = storage.Store(nil)
	_ authserver.AuditStore        = storage.Store(nil)
	_ authserver.CustomerStore     = storage.Store(nil)
	_ authserver.IdempotencyStore  = storage.Store(nil)
	_ authserver.KeyStore          = storage.Store(nil)
	_ authserver.OriginStore       = storage.Store(nil)
	_ authserver.ReplayStore       = storage.Store(nil)
	_ authserver.RevocationStore   = storage.Store(nil)
	_ authserver.SubjectStore      = storage.Store(nil)
	_ authserver.UsageStore        = storage.Store(nil)
	_ handlers.Pinger              = storage.Store(nil)

	_ metrics.StoreMonitor = (*mongodb.Monitor)(nil)
)
