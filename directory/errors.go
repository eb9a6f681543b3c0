package directory

import (
	"errors"
	"fmt"
)

var (
	// ErrBadCredentials is returned by [Client.Authenticate] when the
	// directory refuses the password, or the password is empty.
	ErrBadCredentials = errors.New("directory: wrong password")
	// ErrNoSuchUser is returned when no user entry has the name. Callers
	// answer it as they answer ErrBadCredentials; only the log tells.
	ErrNoSuchUser = errors.New("directory: no such user")
	// ErrAmbiguous is returned when more than one user entry has the name:
	// the user filter is too wide.
	ErrAmbiguous = errors.New("directory: more than one user has the name")
	// ErrDisabled is returned by [Client.Authenticate] for an account the
	// directory marks disabled; no bind is tried.
	ErrDisabled = errors.New("directory: account disabled in the directory")
	// ErrUnavailable wraps every failure of the directory to answer:
	// unreachable, timed out, busy, a TLS failure, or the service account
	// refused. The caller applies its [FailMode].
	ErrUnavailable = errors.New("directory: unavailable")
	// ErrGuard is matched by the [*GuardError] of [PlanSync].
	ErrGuard = errors.New("directory: sync guard")
)

// EntryError is a user entry keydesk cannot take: it names the entry and
// the attribute.
type EntryError struct {
	DN        string
	Attribute string
	Err       error
}

func (e *EntryError) Error() string {
	if e.Attribute == "" {
		return fmt.Sprintf("directory: entry %q: %v", e.DN, e.Err)
	}
	return fmt.Sprintf("directory: entry %q: attribute %s: %v", e.DN, e.Attribute, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

// unavailable wraps err as ErrUnavailable with what was being done.
func unavailable(doing string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, doing, err)
}
