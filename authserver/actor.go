package authserver

import "github.com/authserver/authserver/storage"

// Actor is who performs an operation: an account key, or the server itself
// ("scheduler", "system"). Source is the client address, if any.
type Actor struct {
	ID     string
	Role   string
	Source string
}

// Built-in actors.
var (
	ActorSystem    = Actor{ID: "system"}
	ActorScheduler = Actor{ID: "scheduler"}
)

// ActorAnonymous is the actor of a request that presented no valid
// account key.
var ActorAnonymous = Actor{ID: "anonymous"}

// Page selects a slice of a listing: items after the cursor After, at most
// Limit of them.
type Page = storage.Page
