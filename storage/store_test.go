package storage_test

import (
	"testing"

	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/storagetest"
)

func TestEmbeddedFerretDB(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) *storage.Store {
		s, _ := storagetest.Embedded(t)
		return s
	})
}

func TestExternalMongoDB(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) *storage.Store {
		return storagetest.External(t)
	})
}
