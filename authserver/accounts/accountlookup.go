package accounts

import "github.com/authserver/authserver/authserver"

// LookupKey returns the actor (key id and current role) of account key
// id, from this instance's copy of the account document, and false when
// no such key exists (deleted, or never created). The admin console asks
// it on every request of a signed-in session, so that deleting an
// account key ends its console sessions at once on this instance and
// within cache.refresh_interval on the others, and a session never keeps
// a role its key no longer has. It reads memory only.
func (s *Accounts) LookupKey(id string) (authserver.Actor, bool) {
	a := s.current.Load()
	if a == nil || id == "" {
		return authserver.Actor{}, false
	}
	for _, k := range a.Keys {
		if k.ID == id {
			return authserver.Actor{ID: k.ID, Role: k.Role}, true
		}
	}
	return authserver.Actor{}, false
}
