package apps

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/storage"
)

// AppUpdate is the input of Apps.Update: each non-nil field replaces the
// app's value. The environment and the App ID never change (seed 003: the
// App ID is permanent).
type AppUpdate struct {
	Name      *string
	Scopes    *[]string
	Audiences *[]string
	Origins   *[]string
	// AccessTokenLifetime and UserTokenLifetime: 0 returns to the server
	// default; at most 24h.
	AccessTokenLifetime *time.Duration
	UserTokenLifetime   *time.Duration
}

func (u AppUpdate) empty() bool {
	return u.Name == nil && u.Scopes == nil && u.Audiences == nil && u.Origins == nil &&
		u.AccessTokenLifetime == nil && u.UserTokenLifetime == nil
}

// errNoChange aborts an update that would change nothing.
var errNoChange = errors.New("no change")

// Update changes an app's name, allowed scopes, audiences, origins or
// token lifetimes, with the same rules as Create. The change applies to
// new tokens: at once on this instance, within cache.refresh_interval on
// the others. Errors: KindInvalid (empty_update and Create's codes),
// KindNotFound, KindUnavailable.
func (s *Apps) Update(ctx context.Context, actor authserver.Actor, id string, u AppUpdate) (AppView, error) {
	const action = "app.update"
	if u.empty() {
		return AppView{}, authserver.NewError(authserver.KindInvalid, "empty_update", "the update changes nothing: give at least one field")
	}
	var fields []string
	stored, now, err := s.updateApp(ctx, actor, action, id, id, func(a *storage.App, _ time.Time) error {
		in := NewApp{
			Name: a.Name, Environment: a.Environment, Scopes: a.Scopes, Audiences: a.Audiences, Origins: a.Origins,
			AccessTokenLifetime: a.AccessTokenLifetime, UserTokenLifetime: a.UserTokenLifetime,
		}
		fields = fields[:0]
		if u.Name != nil {
			in.Name, fields = *u.Name, append(fields, "name")
		}
		if u.Scopes != nil {
			in.Scopes, fields = *u.Scopes, append(fields, "scopes")
		}
		if u.Audiences != nil {
			in.Audiences, fields = *u.Audiences, append(fields, "audiences")
		}
		if u.Origins != nil {
			in.Origins, fields = *u.Origins, append(fields, "origins")
		}
		if u.AccessTokenLifetime != nil {
			in.AccessTokenLifetime, fields = *u.AccessTokenLifetime, append(fields, "access_token_lifetime")
		}
		if u.UserTokenLifetime != nil {
			in.UserTokenLifetime, fields = *u.UserTokenLifetime, append(fields, "user_token_lifetime")
		}
		if err := validateNewApp(&in); err != nil {
			return err
		}
		a.Name, a.Scopes, a.Audiences, a.Origins = in.Name, nonNil(in.Scopes), nonNil(in.Audiences), in.Origins
		a.AccessTokenLifetime, a.UserTokenLifetime = in.AccessTokenLifetime, in.UserTokenLifetime
		return nil
	})
	if err != nil {
		return AppView{}, err
	}
	s.audit.Record(ctx, actor, action, id, id, "success", map[string]string{"fields": strings.Join(fields, ",")})
	return s.view(ctx, stored, now), nil
}

// SetEnabled disables or enables an app. A disabled app's secrets all
// fail with invalid_client (at once on this instance, within
// cache.refresh_interval on the others) and its tokens are inactive on
// introspection (ClientCache.CredentialActive); enabling it restores both.
// Setting the state it already has writes nothing. Errors: KindNotFound,
// KindUnavailable.
func (s *Apps) SetEnabled(ctx context.Context, actor authserver.Actor, id string, enabled bool) (AppView, error) {
	action := "app.disable"
	if enabled {
		action = "app.enable"
	}
	stored, now, err := s.updateApp(ctx, actor, action, id, id, func(a *storage.App, _ time.Time) error {
		if a.Enabled == enabled {
			return errNoChange
		}
		a.Enabled = enabled
		return nil
	})
	if errors.Is(err, errNoChange) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return AppView{}, err
	}
	s.audit.Record(ctx, actor, action, id, id, "success", nil)
	return s.view(ctx, stored, now), nil
}

func (s *Apps) view(ctx context.Context, a storage.App, now time.Time) AppView {
	usage, _ := s.store.SecretUsage(ctx, a.ID) // last use is informative only
	return viewApp(a, usage, now)
}
