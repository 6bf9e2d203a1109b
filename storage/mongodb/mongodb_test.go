package mongodb_test

import (
	"testing"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

// The storage contract holds on the embedded FerretDB, always.
func TestConformanceEmbedded(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := storagetest.Embedded(t)
		return s
	})
}

// The storage contract holds on a real MongoDB, when
// AUTHSERVER_TEST_MONGODB_URI names one.
func TestConformanceMongoDB(t *testing.T) {
	storagetest.SkipUnlessExternal(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return storagetest.External(t)
	})
}
