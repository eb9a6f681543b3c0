// Package desk holds the help desk's actions on users and fobs: each one
// checks its rules, changes the inventory and writes its audit entry in one
// transaction. The CLI and the admin API both call it, so an action means
// the same wherever it is taken.
package desk

import (
	"context"
	"fmt"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// ErrState is wrapped when a fob's state does not allow an action.
var ErrState = verify.Refusef("not allowed in the fob's state")

// Desk acts on one inventory on behalf of Actor.
type Desk struct {
	Store *inventory.Store
	Actor string
}

func (d *Desk) update(ctx context.Context, fn func(tx *inventory.Tx) error) error {
	return d.Store.Update(ctx, fn)
}

// AddUser adds a person.
func (d *Desk) AddUser(ctx context.Context, u inventory.User) (inventory.User, error) {
	var out inventory.User
	err := d.update(ctx, func(tx *inventory.Tx) error {
		var err error
		if out, err = tx.AddUser(u); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "user add", "user "+u.Name, u.FullName)
	})
	return out, err
}

// SetUserDisabled disables or enables a user; a disabled user's passcodes
// are all refused, and the fobs stay assigned.
func (d *Desk) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
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
		return tx.Audit(d.Actor, map[bool]string{true: "user disable", false: "user enable"}[disabled], "user "+name, "")
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
		return tx.Audit(d.Actor, "user unlock", "user "+name, fmt.Sprintf("%d failures cleared", u.FailCount))
	})
}

// AddFob stores one fob typed in from a vendor's sheet, in stock.
func (d *Desk) AddFob(ctx context.Context, t fob.Token) error {
	t.Normalize()
	if err := t.Validate(); err != nil {
		return err
	}
	return d.update(ctx, func(tx *inventory.Tx) error {
		if err := tx.AddFob(t, 0, 0); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "fob add", "fob "+t.Serial, fmt.Sprintf("%s, typed in", t.Kind))
	})
}

// fobAction loads a fob inside an update and runs act on it.
func (d *Desk) fobAction(ctx context.Context, serial string, act func(tx *inventory.Tx, f *inventory.Fob) error) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		f, err := tx.Fob(serial)
		if err != nil {
			return err
		}
		return act(tx, &f)
	})
}

func stateError(f *inventory.Fob, action string) error {
	switch f.State {
	case inventory.Lost:
		return fmt.Errorf("%w: cannot %s fob %s: it was reported lost on %s", ErrState, action, f.Token.Serial, f.StateAt.Format("2006-01-02"))
	case inventory.Revoked:
		return fmt.Errorf("%w: cannot %s fob %s: it was revoked on %s", ErrState, action, f.Token.Serial, f.StateAt.Format("2006-01-02"))
	case inventory.Assigned:
		return fmt.Errorf("%w: cannot %s fob %s: it is assigned to %s; unassign it first", ErrState, action, f.Token.Serial, f.User)
	}
	return fmt.Errorf("%w: cannot %s fob %s: it is in stock", ErrState, action, f.Token.Serial)
}

// AssignFob hands a fob in stock to a user.
func (d *Desk) AssignFob(ctx context.Context, serial, user string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if f.State != inventory.InStock {
			return stateError(f, "assign")
		}
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", user)
		}
		if err := tx.SetFobHolder(f.ID, u.ID); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "fob assign", "fob "+serial, "to "+user)
	})
}

// UnassignFob returns an assigned fob to stock.
func (d *Desk) UnassignFob(ctx context.Context, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if f.State != inventory.Assigned {
			return stateError(f, "unassign")
		}
		if err := tx.SetFobHolder(f.ID, 0); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "fob unassign", "fob "+serial, "from "+f.User)
	})
}

// ReportLost disables a fob at once; it stays linked to its holder.
func (d *Desk) ReportLost(ctx context.Context, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if f.State == inventory.Lost || f.State == inventory.Revoked {
			return stateError(f, "report lost")
		}
		if err := tx.SetFobState(f.ID, inventory.Lost); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "fob lost", "fob "+serial, holder(f))
	})
}

// Revoke takes a fob out of service for good.
func (d *Desk) Revoke(ctx context.Context, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if f.State == inventory.Revoked {
			return stateError(f, "revoke")
		}
		if err := tx.SetFobState(f.ID, inventory.Revoked); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "fob revoke", "fob "+serial, holder(f))
	})
}

// UnlockFob clears a fob's failures and lock.
func (d *Desk) UnlockFob(ctx context.Context, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if !f.Locked() && f.FailCount == 0 {
			return verify.Refusef("fob %s is not locked", serial)
		}
		if err := tx.UnlockFob(f.ID); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "fob unlock", "fob "+serial, fmt.Sprintf("%d failures cleared", f.FailCount))
	})
}

func holder(f *inventory.Fob) string {
	if f.User == "" {
		return "in stock"
	}
	return "held by " + f.User
}

// RemoveKey takes a user's security key out of use; it stays on record.
func (d *Desk) RemoveKey(ctx context.Context, user, ref string) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		k, err := tx.UserKey(u.ID, ref)
		if err != nil {
			return fmt.Errorf("user %s: %w", user, err)
		}
		if err := tx.SetKeyState(k.ID, inventory.KeyRemoved); err != nil {
			return err
		}
		return tx.Audit(d.Actor, "key remove", "user "+user, fmt.Sprintf("key #%d %q", k.ID, k.Name))
	})
}
