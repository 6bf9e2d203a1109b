package authserver

import (
	"errors"
	"fmt"

	"github.com/authserver/authserver/storage"
)

// ErrorKind classifies a domain error; the admin API maps it to a status.
type ErrorKind int

// Error kinds.
const (
	// KindInvalid: the input is malformed or out of range (400).
	KindInvalid ErrorKind = iota + 1
	// KindNotFound: the target does not exist (404).
	KindNotFound
	// KindConflict: the transition is forbidden in the target's current
	// state, e.g. deleting an active secret (409).
	KindConflict
	// KindForbidden: the credential's role does not allow it (403).
	KindForbidden
	// KindUnauthenticated: no valid credential (401).
	KindUnauthenticated
	// KindUnavailable: the store cannot be reached (503).
	KindUnavailable
)

// Error is a domain error with a machine-readable code (e.g.
// "last_active_secret") and a message fit for the operator. It never holds a
// secret.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
	Err     error
}

// Error renders e for logs and wrapped errors: "code: message" and the
// cause, if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// NewError returns an Error of kind with the machine-readable code (e.g.
// "secret_active") and a message for the operator formatted as
// fmt.Sprintf does; the message must hold no secret.
func NewError(kind ErrorKind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrStoreUnavailable means the database cannot be reached and the cached
// answer is older than the configured bound (cache.max_staleness): the
// client cache and the token denylist return it. Token endpoints answer it
// with 503 temporarily_unavailable.
var ErrStoreUnavailable = errors.New("store unavailable")

// StoreError turns an error of the store into an *Error: KindNotFound
// ("not_found") for storage.ErrNotFound, KindConflict
// ("concurrent_update", "duplicate") for storage.ErrConflict and
// storage.ErrDuplicate, err itself when it holds an *Error (a rule's
// refusal from inside an update), KindUnavailable ("store_unavailable")
// for anything else.
func StoreError(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Kind: KindNotFound, Code: "not_found", Message: "no such resource", Err: err}
	case errors.Is(err, storage.ErrConflict):
		return &Error{Kind: KindConflict, Code: "concurrent_update", Message: "the resource changed concurrently; retry", Err: err}
	case errors.Is(err, storage.ErrDuplicate):
		return &Error{Kind: KindConflict, Code: "duplicate", Message: "the resource exists already", Err: err}
	case AsError(err) != nil:
		return err
	default:
		return &Error{Kind: KindUnavailable, Code: "store_unavailable", Message: "the database cannot be reached", Err: err}
	}
}
