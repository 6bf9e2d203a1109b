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

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

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
// answer is older than the configured bound. Token endpoints answer it
// with 503 temporarily_unavailable.
var ErrStoreUnavailable = errors.New("store unavailable")

// StoreError turns a storage error into a domain error.
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
