package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"time"

	"github.com/authserver/authserver/authserver/credential"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/storage/embedded"
	"github.com/authserver/authserver/storage/mongodb"
)

// seedApps stores m apps straight into the database of dataDir, through
// the storage package and the embedded FerretDB the server would start
// (the server must not be running on it). Each app has one active secret
// as the admin API would make it. It returns the credentials of keep of
// them, spread evenly over the m.
func seedApps(ctx context.Context, dataDir string, m, keep int) ([]client, time.Duration, error) {
	start := time.Now()
	e, err := embedded.Start(filepath.Join(dataDir, "db"), "", nil)
	if err != nil {
		return nil, 0, err
	}
	defer e.Close()
	st, err := mongodb.Open(ctx, mongodb.Options{URI: e.URI(), Timeout: time.Minute})
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = st.Close(context.Background()) }()
	if err := st.EnsureIndexes(ctx); err != nil {
		return nil, 0, err
	}
	every := max(m/max(keep, 1), 1)
	var kept []client
	now := time.Now().UTC().Truncate(time.Millisecond)
	const chunk = 10_000
	for base := 0; base < m; base += chunk {
		apps := make([]storage.App, 0, chunk)
		for i := base; i < min(base+chunk, m); i++ {
			id := credential.NewAppID(credential.EnvLive)
			secret := credential.NewSecret(credential.EnvLive)
			d := credential.Digest(secret)
			apps = append(apps, storage.App{
				ID: id, Name: fmt.Sprintf("seeded-%06d", i), Environment: credential.EnvLive, Enabled: true,
				Scopes: []string{"read", "write"}, Audiences: []string{audience},
				Secrets: []storage.Secret{{
					ID: "sec_" + rand.Text()[:17], Digest: d[:], Prefix: "sk_live_", Last4: secret[len(secret)-4:],
					Status: storage.SecretActive, CreatedAt: now,
				}},
				CreatedAt: now,
			})
			if i%every == 0 && len(kept) < keep {
				kept = append(kept, client{ID: id, Secret: secret})
			}
		}
		if err := st.ImportApps(ctx, apps); err != nil {
			return nil, 0, fmt.Errorf("seed apps: %w", err)
		}
	}
	return kept, time.Since(start), nil
}
