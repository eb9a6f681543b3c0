package desk

// What a user does for themselves in the self-service portal, besides
// what the help desk can do for them.

import (
	"context"
	"fmt"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// AddPhoneAppFromLink makes a new phone app for the user of a live
// enrolment or activation link; pairing it ([Desk.ActivatePhoneApp])
// uses the link up.
func (d *Desk) AddPhoneAppFromLink(ctx context.Context, linkID int64, issuer string) (PhoneAppSeed, error) {
	var l inventory.Link
	err := d.store.Update(ctx, func(tx *inventory.Tx) error {
		var err error
		l, err = tx.Link(linkID)
		if err != nil {
			return err
		}
		return refuseLink(verify.OpenLink(l, l.Kind, tx.Now()))
	})
	if err != nil {
		return PhoneAppSeed{}, err
	}
	return d.addPhoneApp(ctx, l.User, issuer, l.ID)
}

// ReportHeldFobLost is [Desk.ReportLost] for a fob user holds, and only
// for one: a user reports their own fob.
func (d *Desk) ReportHeldFobLost(ctx context.Context, user, serial string) error {
	return d.fobAction(ctx, serial, func(tx *inventory.Tx, f *inventory.Fob) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if f.State != inventory.Assigned || f.User != u.Name {
			return fmt.Errorf("user %s holds no fob %s: %w", u.Name, serial, inventory.ErrNotFound)
		}
		if err := tx.SetFobState(f.ID, inventory.Lost); err != nil {
			return err
		}
		return tx.Audit(d.actor, "fob lost", "fob "+serial, holder(f))
	})
}
