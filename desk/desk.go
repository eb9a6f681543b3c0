// Package desk is the one door to the inventory for the help desk's
// actions: each one checks its rules (package verify decides), changes the
// inventory and writes its audit entry in one transaction. The CLI and the
// server both call it, so an action means the same wherever it is taken,
// and no change reaches the inventory without its audit entry.
package desk

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// ErrState is wrapped when a fob's state does not allow an action.
var ErrState = verify.Refusef("not allowed in the fob's state")

// Desk acts on one inventory under one verifier's rules. Make one with
// [New]; [Desk.As] names who acts, for the audit log.
type Desk struct {
	store *inventory.Store
	ver   *verify.Verifier
	actor string
	rand  io.Reader
	// reason is why the clerk acts, for the actions that keep one.
	reason string
}

// New is the desk of an inventory, acting as "keydesk" until told who acts.
func New(store *inventory.Store, ver *verify.Verifier) *Desk {
	return &Desk{store: store, ver: ver, actor: "keydesk", rand: rand.Reader}
}

// As is the same desk acting on behalf of actor ("cli:alice",
// "api:carol"), which every audit entry it writes names. It is cheap: the
// server makes one per request.
func (d *Desk) As(actor string) *Desk {
	c := *d
	c.actor = actor
	return &c
}

// WithRand is the same desk drawing codes and challenges from r, for tests.
func (d *Desk) WithRand(r io.Reader) *Desk {
	c := *d
	c.rand = r
	return &c
}

// Because is the same desk acting for reason: the actions that keep one
// (a fob reported lost or revoked, a user disabled) write it in their
// audit entry and keep it on the record. [CheckReason] says what a reason
// may be.
func (d *Desk) Because(reason string) *Desk {
	c := *d
	c.reason = strings.TrimSpace(reason)
	return &c
}

// MaxReason bounds a reason: a sentence, not a report.
const MaxReason = 200

// CheckReason says what is wrong with a reason, if anything.
func CheckReason(reason string) error {
	switch {
	case !utf8.ValidString(reason):
		return verify.Refusef("the reason is not UTF-8 text")
	case len(reason) > MaxReason:
		return verify.Refusef("the reason is longer than %d bytes", MaxReason)
	case strings.IndexFunc(reason, unicode.IsControl) >= 0:
		return verify.Refusef("the reason contains a control character (a line break, say): give it on one line")
	}
	return nil
}

// because is the audit detail of an action, with the reason it was taken
// for, if one was given.
func (d *Desk) because(detail string) string {
	switch {
	case d.reason == "":
		return detail
	case detail == "":
		return "reason: " + d.reason
	}
	return detail + "; reason: " + d.reason
}

// Actor is who the desk acts for.
func (d *Desk) Actor() string { return d.actor }

// Policy is the rules the desk acts under.
func (d *Desk) Policy() verify.Policy { return d.ver.Policy() }

func (d *Desk) update(ctx context.Context, fn func(tx *inventory.Tx) error) error {
	return d.store.Update(ctx, fn)
}

// AddUser adds a person.
func (d *Desk) AddUser(ctx context.Context, u inventory.User) (inventory.User, error) {
	var out inventory.User
	err := d.update(ctx, func(tx *inventory.Tx) error {
		var err error
		if out, err = tx.AddUser(u); err != nil {
			return err
		}
		return tx.Audit(d.actor, "user add", "user "+u.Name, u.FullName)
	})
	return out, err
}

// SetUserDisabled disables or enables a user; a disabled user's passcodes
// are all refused, and the fobs stay assigned. A user is disabled for the
// desk's reason ([Desk.Because]), which enabling clears.
func (d *Desk) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	if err := CheckReason(d.reason); err != nil {
		return err
	}
	return d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if u.Disabled == disabled {
			return verify.Refusef("user %s is already %s", name, map[bool]string{true: "disabled", false: "enabled"}[disabled])
		}
		if err := tx.SetUserDisabled(u.ID, disabled); err != nil {
			return err
		}
		reason := ""
		if disabled {
			reason = d.reason
		}
		if err := tx.SetDisabledReason(u.ID, reason); err != nil {
			return err
		}
		return tx.Audit(d.actor, map[bool]string{true: "user disable", false: "user enable"}[disabled], "user "+name, d.because(""))
	})
}

// UnlockUser clears a user's failed passcodes.
func (d *Desk) UnlockUser(ctx context.Context, name string) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if err := tx.ResetUserFailures(u.ID); err != nil {
			return err
		}
		return tx.Audit(d.actor, "user unlock", "user "+name, fmt.Sprintf("%d failures cleared", u.FailCount))
	})
}
