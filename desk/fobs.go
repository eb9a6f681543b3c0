package desk

// The help desk's actions on fobs.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// ErrSharedSeed is wrapped when a fob's seed is another fob's: two fobs
// with one seed make the same codes, so either passes for the other.
var ErrSharedSeed = verify.Refusef("the same seed as another fob")

// ErrNotLocked is wrapped when a fob to unlock is not locked; nothing
// changed.
var ErrNotLocked = verify.Refusef("not locked")

// AddFobOptions are the choices of [Desk.AddFob].
type AddFobOptions struct {
	// AllowSharedSeed stores a fob whose seed another fob has, where it
	// would be refused: some vendors ship pairs on purpose.
	AllowSharedSeed bool
}

// AddFob stores one fob typed in from a vendor's sheet, in stock. A seed
// another fob has is refused unless the options allow it.
func (d *Desk) AddFob(ctx context.Context, t fob.Token, o AddFobOptions) error {
	t.Normalize()
	if err := t.Validate(); err != nil {
		return err
	}
	return d.update(ctx, func(tx *inventory.Tx) error {
		// Stored first, so that a serial already stored says so before a
		// seed does; a refusal below undoes it.
		if err := tx.AddFob(t, 0, 0); err != nil {
			return err
		}
		twins, err := tx.FobsWithSeed(t.Secret)
		if err != nil {
			return err
		}
		twins = slices.DeleteFunc(twins, func(s string) bool { return s == t.Serial })
		if len(twins) > 0 && !o.AllowSharedSeed {
			return fmt.Errorf("%w: fob %s would have the seed of fob %s, and make the same codes; check the seed file, or say --allow-duplicate-seed if the vendor made them so",
				ErrSharedSeed, t.Serial, strings.Join(twins, ", "))
		}
		detail := fmt.Sprintf("%s, typed in", t.Kind)
		if len(twins) > 0 {
			detail += ", the same seed as fob " + strings.Join(twins, ", ")
		}
		return tx.Audit(d.actor, "fob add", "fob "+t.Serial, detail)
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

// ReportLost disables a fob at once, for the desk's reason
// ([Desk.Because]); it stays linked to its holder.
func (d *Desk) ReportLost(ctx context.Context, serial string) error {
	return d.retire(ctx, serial, inventory.Lost, "report lost", "fob lost")
}

// Revoke takes a fob out of service for good, for the desk's reason.
func (d *Desk) Revoke(ctx context.Context, serial string) error {
	return d.retire(ctx, serial, inventory.Revoked, "revoke", "fob revoke")
}

func (d *Desk) retire(ctx context.Context, serial string, st inventory.State, verb, action string) error {
	if err := CheckReason(d.reason); err != nil {
		return err
	}
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if f.State == inventory.Revoked || f.State == st {
			return stateError(f, verb)
		}
		if err := tx.SetFobStateBecause(f.ID, st, d.reason); err != nil {
			return err
		}
		return tx.Audit(d.actor, action, "fob "+serial, d.because(holder(f)))
	})
}

// UnlockFob clears a fob's failures and lock; [ErrNotLocked] if it has
// neither, and nothing changes.
func (d *Desk) UnlockFob(ctx context.Context, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		if !f.Locked() && f.FailCount == 0 {
			return fmt.Errorf("%w: fob %s is not locked, and has no failures to clear", ErrNotLocked, serial)
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
