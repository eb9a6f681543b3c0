package verify

import (
	"errors"
	"fmt"
)

// ErrRefused is matched (errors.Is) by every refusal under the help desk's
// rules: an action that is not allowed now ("user bob is already
// disabled"), as opposed to a failure to act (a database error). The API
// answers the first with 409 and its words, the second with 500.
var ErrRefused = errors.New("refused")

// Refusal is a refusal in words a clerk can act on; it matches ErrRefused.
type Refusal struct{ msg string }

func (r Refusal) Error() string        { return r.msg }
func (r Refusal) Is(target error) bool { return target == ErrRefused }

// Refusef makes a [Refusal].
func Refusef(format string, args ...any) error { return Refusal{fmt.Sprintf(format, args...)} }
