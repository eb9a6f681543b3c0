package main

// The key's state in words: what a refusal of the key means at the desk,
// and what the clerk does next.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

// keyError is a refusal of the key, explained; code is its word for
// scripts (errorCode).
type keyError struct {
	code string
	msg  string
	err  error
}

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return e.err }

// Sentences for the key's states.
const (
	pinBlockedWords = "the key's PIN is blocked after too many wrong tries: only a reset (which erases its credentials) makes it usable"
	powerCycleWords = "the key wants a power cycle after three wrong PINs in a row: unplug the key and plug it in again"
	resetLateWords  = "the key refused the reset: real keys accept one only within seconds of being plugged in, and with a touch; " +
		"unplug the key, plug it in again, and run keydesk key reset at once"
)

// explainKey turns the key's refusals into what the clerk needs to know;
// other errors pass unchanged. It may ask the key how many PIN tries are
// left.
func explainKey(c *cli.Context, cl *hid.Client, err error) error {
	var ctap u2f.CTAP2Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, desk.ErrPINRequired):
		return &keyError{"pin_required", err.Error() + ": give it with --pin-file FILE, or run keydesk on a terminal to be asked", err}
	case errors.Is(err, hid.ErrPINAlreadySet):
		return &keyError{"pin_set", "the key has a PIN already: change it with keydesk key pin change", err}
	case errors.Is(err, u2f.ErrPINRules):
		return &keyError{"pin_rules", err.Error(), err}
	case errors.Is(err, context.Canceled), errors.Is(err, u2f.ErrKeepaliveCancel):
		return &keyError{"cancelled", errCancelled.Error(), err}
	case !errors.As(err, &ctap):
		return err
	}
	switch ctap {
	case u2f.ErrPINInvalid:
		return &keyError{"pin_invalid", "the PIN is wrong" + triesLeft(c, cl), err}
	case u2f.ErrPINBlocked:
		return &keyError{"pin_blocked", pinBlockedWords, err}
	case u2f.ErrPINAuthBlocked:
		return &keyError{"power_cycle", powerCycleWords, err}
	case u2f.ErrPINNotSet:
		return &keyError{"no_pin", "the key has no PIN yet: set one with keydesk key pin set", err}
	case u2f.ErrPUATRequired:
		return &keyError{"pin_required", "the key needs its PIN for this: give it with --pin-file FILE, or run keydesk on a terminal to be asked", err}
	case u2f.ErrPINPolicyViolation:
		return &keyError{"pin_rules", "the key does not accept this PIN (too short or too long for it, or it wants a new PIN first)", err}
	case u2f.ErrNotAllowed:
		return &keyError{"not_allowed", resetLateWords, err}
	case u2f.ErrUserActionTimeout, u2f.ErrActionTimeout:
		return &keyError{"touch_timeout", "nobody touched the key in time", err}
	case u2f.ErrOperationDenied:
		return &keyError{"denied_on_key", "the key refused: the user declined on it", err}
	}
	return &keyError{"key_refused", fmt.Sprintf("the key refused: %v", ctap), err}
}

// triesLeft says how many PIN tries remain, when the key says.
func triesLeft(c *cli.Context, cl *hid.Client) string {
	if cl == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(c.Context, 3*time.Second)
	defer cancel()
	n, cycle, err := cl.PINRetries(ctx)
	if err != nil {
		return ""
	}
	s := fmt.Sprintf(": %s left before the key blocks its PIN", plural(n, "try", "tries"))
	if cycle {
		s += "; " + powerCycleWords
	}
	return s
}
