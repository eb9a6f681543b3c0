package desk

// The actions on the server's administrators and applications.

import (
	"context"
	"strings"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// AddAdmin adds an administrator with role and returns its API token,
// which is shown once and never stored.
func (d *Desk) AddAdmin(ctx context.Context, name string, role verify.Role) (inventory.Admin, string, error) {
	if r, err := verify.ParseRole(string(role)); err != nil || r != role {
		return inventory.Admin{}, "", verify.Refusef("unknown role %q", role)
	}
	var a inventory.Admin
	var token string
	err := d.update(ctx, func(tx *inventory.Tx) error {
		var err error
		if a, token, err = tx.AddAdmin(name, string(role), d.actor); err != nil {
			return err
		}
		return tx.Audit(d.actor, "admin add", "admin "+name, "role "+role.Label())
	})
	if err != nil {
		return inventory.Admin{}, "", err
	}
	return a, token, nil
}

// DisableAdmin disables an administrator: its token is refused from now
// on. The last enabled owner is not disabled, so that the admin API always
// has someone who can manage administrators.
func (d *Desk) DisableAdmin(ctx context.Context, name string) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		a, err := tx.Admin(name)
		if err != nil {
			return err
		}
		if a.Disabled {
			return verify.Refusef("admin %s is already disabled", name)
		}
		if a.Role == string(verify.Owner) {
			n, err := tx.EnabledAdmins(a.Role)
			if err != nil {
				return err
			}
			if n <= 1 {
				return verify.Refusef("admin %s is the last enabled owner; add another owner first", name)
			}
		}
		if err := tx.SetAdminDisabled(a.ID, true); err != nil {
			return err
		}
		return tx.Audit(d.actor, "admin disable", "admin "+name, "role "+verify.Role(a.Role).Label())
	})
}

// AddApplication adds an application and returns its key, which is shown
// once and never stored.
func (d *Desk) AddApplication(ctx context.Context, n inventory.NewApplication) (inventory.Application, string, error) {
	var a inventory.Application
	var key string
	err := d.update(ctx, func(tx *inventory.Tx) error {
		var err error
		if a, key, err = tx.AddApplication(n, d.actor); err != nil {
			return err
		}
		return tx.Audit(d.actor, "app add", "application "+a.Name, describeApp(&a))
	})
	if err != nil {
		return inventory.Application{}, "", err
	}
	return a, key, nil
}

func describeApp(a *inventory.Application) string {
	if !a.RADIUS {
		return "API client"
	}
	var s []string
	for _, p := range a.RADIUSSources {
		s = append(s, p.String())
	}
	return "API and RADIUS client from " + strings.Join(s, ", ")
}

// RemoveApplication removes an application: its key and RADIUS secret
// stop working.
func (d *Desk) RemoveApplication(ctx context.Context, name string) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		a, err := tx.Application(name)
		if err != nil {
			return err
		}
		if err := tx.RemoveApplication(a.ID); err != nil {
			return err
		}
		return tx.Audit(d.actor, "app remove", "application "+name, describeApp(&a))
	})
}

// RecordRefusal writes in the audit log that the actor was refused an
// action by the role table (why says which rule).
func (d *Desk) RecordRefusal(ctx context.Context, action, why string) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		return tx.Audit(d.actor, "api refused", action, why)
	})
}
