package desk

// The help desk's actions on fobs.

import (
	"context"
	"fmt"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

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
		return tx.Audit(d.actor, "fob add", "fob "+t.Serial, fmt.Sprintf("%s, typed in", t.Kind))
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
		if err := refusePhoneFob(tx, f, "assign"); err != nil {
			return err
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
		return tx.Audit(d.actor, "fob assign", "fob "+serial, "to "+user)
	})
}

// UnassignFob returns an assigned fob to stock.
func (d *Desk) UnassignFob(ctx context.Context, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if f.State != inventory.Assigned {
			return stateError(f, "unassign")
		}
		if err := refusePhoneFob(tx, f, "unassign"); err != nil {
			return err
		}
		if err := tx.SetFobHolder(f.ID, 0); err != nil {
			return err
		}
		return tx.Audit(d.actor, "fob unassign", "fob "+serial, "from "+f.User)
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
		return tx.Audit(d.actor, "fob lost", "fob "+serial, holder(f))
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
		return tx.Audit(d.actor, "fob revoke", "fob "+serial, holder(f))
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
		return tx.Audit(d.actor, "fob unlock", "fob "+serial, fmt.Sprintf("%d failures cleared", f.FailCount))
	})
}

func holder(f *inventory.Fob) string {
	if f.User == "" {
		return "in stock"
	}
	return "held by " + f.User
}

// Resync moves a drifted fob to where two consecutive codes it shows put
// it (verify decides where), and clears its failures and lock, since the
// clerk has just seen it work. The answer says where the fob now is.
func (d *Desk) Resync(ctx context.Context, serial, code1, code2 string) (Resynced, error) {
	var out Resynced
	err := d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		use, err := d.ver.Policy().Resync(f, code1, code2, tx.Now())
		if err != nil {
			return err
		}
		if err := tx.RecordFobUse(f.ID, use); err != nil {
			return err
		}
		if err := tx.UnlockFob(f.ID); err != nil {
			return err
		}
		out = Resynced{Serial: serial, Kind: f.Token.Kind, Counter: use.Counter, Drift: use.Drift, Unlocked: f.Locked() || f.FailCount > 0}
		return tx.Audit(d.actor, "fob resync", "fob "+serial, out.String())
	})
	return out, err
}

// Resynced is where a resync put a fob.
type Resynced struct {
	Serial   string   `json:"serial"`
	Kind     fob.Kind `json:"kind"`
	Counter  uint64   `json:"counter"`  // HOTP: the next counter the fob is expected at
	Drift    int      `json:"drift"`    // TOTP: the fob's clock, in steps from keydesk's
	Unlocked bool     `json:"unlocked"` // it was locked, or had failures, and no longer has
}

func (r Resynced) String() string {
	if r.Kind == fob.TOTP {
		return fmt.Sprintf("drift now %+d steps", r.Drift)
	}
	return fmt.Sprintf("counter now %d", r.Counter)
}
