package desk

// The directory sync: keydesk's users follow the directory's scope group.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/inventory"
)

// Members is what a sync reads of the directory: everyone in the scope
// group. *directory.Client is one.
type Members interface {
	Members(ctx context.Context) ([]directory.Entry, error)
}

// SyncReport is what a directory sync did, or would do in a dry run.
type SyncReport struct {
	DryRun    bool           `json:"dry_run"`
	Found     int            `json:"found"` // members of the scope group
	Created   []string       `json:"created"`
	Updated   []string       `json:"updated"`  // "old → new" for renames
	Disabled  []SyncDisabled `json:"disabled"` // left the group, or disabled in the directory
	Enabled   []string       `json:"enabled"`  // back in the group, after the sync had disabled them
	Adopted   []string       `json:"adopted"`  // typed in at the desk before, now linked by the directory's id
	Conflicts []string       `json:"conflicts,omitempty"`
}

// SyncDisabled is a user a sync disabled, and what they still hold.
type SyncDisabled struct {
	User   string `json:"user"`
	Reason string `json:"reason"`
	Fobs   int    `json:"fobs"` // kept: the user is disabled, never deleted
}

func (r SyncReport) String() string {
	return fmt.Sprintf("%d in the directory's group: %d created, %d linked, %d updated, %d disabled, %d enabled, %d conflicts",
		r.Found, len(r.Created), len(r.Adopted), len(r.Updated), len(r.Disabled), len(r.Enabled), len(r.Conflicts))
}

// SyncDirectory brings the users in line with the directory's scope
// group (directory.PlanSync decides): members are created or updated,
// matched by their immutable id so that a renamed user keeps their fobs
// and keys; users who left the group, or are disabled in the directory,
// are disabled (never deleted). A sync that would disable more than the
// allowed share refuses, changing nothing (directory.ErrGuard); force
// lets it. One sync is one transaction and one audit entry with its
// counts.
func (d *Desk) SyncDirectory(ctx context.Context, dir Members, opts directory.PlanOptions, dryRun bool) (SyncReport, error) {
	found, err := dir.Members(ctx)
	if err != nil {
		return SyncReport{}, err
	}
	held, err := d.store.DirectoryUsers(ctx)
	if err != nil {
		return SyncReport{}, err
	}
	known, ids, adopt := adoptByName(held, found)
	plan, err := directory.PlanSync(known, found, opts)
	if err != nil {
		return SyncReport{}, err
	}
	rep := SyncReport{DryRun: dryRun, Found: len(found), Created: []string{}, Updated: []string{}, Disabled: []SyncDisabled{}, Enabled: []string{}, Adopted: []string{}}
	err = d.update(ctx, func(tx *inventory.Tx) error {
		for _, a := range adopt {
			if err := tx.SetDirectoryID(a.id, a.directoryID); err != nil {
				return err
			}
			rep.Adopted = append(rep.Adopted, a.name)
		}
		if err := applyPlan(tx, plan, ids, &rep); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return tx.Audit(d.actor, "directory sync", "users", rep.String())
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return SyncReport{}, err
	}
	return rep, nil
}

type adoption struct {
	id          int64
	name        string
	directoryID string
}

// adoptByName links the users typed in at the desk before the directory
// was: a member of the scope group whose id keydesk does not hold, with
// the name of a user who has no directory id, is that user. From then on
// the id alone matches them.
func adoptByName(held []inventory.DirectoryUser, found []directory.Entry) ([]directory.Known, map[string]int64, []adoption) {
	byID := map[string]bool{}
	byName := map[string]int{}
	for i, u := range held {
		if u.DirectoryID != "" {
			byID[u.DirectoryID] = true
		} else {
			byName[strings.ToLower(u.Name)] = i
		}
	}
	var adopt []adoption
	for _, e := range found {
		if i, ok := byName[strings.ToLower(e.Username)]; ok && !byID[e.ID] {
			held[i].DirectoryID = e.ID
			byID[e.ID] = true
			delete(byName, strings.ToLower(e.Username))
			adopt = append(adopt, adoption{held[i].ID, held[i].Name, e.ID})
		}
	}
	known := make([]directory.Known, len(held))
	ids := map[string]int64{}
	for i, u := range held {
		known[i] = directory.Known{ID: u.DirectoryID, Username: u.Name, FullName: u.FullName, Email: u.Email,
			Disabled: u.Disabled, DisabledBySync: u.DisabledBySync}
		if u.DirectoryID != "" {
			ids[u.DirectoryID] = u.ID
		}
	}
	return known, ids, adopt
}

func applyPlan(tx *inventory.Tx, plan directory.Plan, ids map[string]int64, rep *SyncReport) error {
	// Renames go through a name nobody holds, so that two users who swap
	// names never meet on one.
	for _, u := range plan.Update {
		if u.Renamed() {
			if err := tx.UpdateDirectoryUser(ids[u.Known.ID], "~sync-"+u.Known.ID, u.Known.FullName, u.Known.Email); err != nil {
				return err
			}
		}
	}
	for _, u := range plan.Update {
		e := u.Entry
		if err := tx.UpdateDirectoryUser(ids[u.Known.ID], e.Username, e.FullName, e.Email); err != nil {
			return fmt.Errorf("updating %s from %s: %w", u.Known.Username, e.DN, err)
		}
		what := e.Username
		if u.Renamed() {
			what = u.Known.Username + " → " + e.Username
		}
		rep.Updated = append(rep.Updated, what)
	}
	for _, e := range plan.Create {
		if _, err := tx.AddDirectoryUser(inventory.User{Name: e.Username, FullName: e.FullName, Email: e.Email}, e.ID); err != nil {
			return fmt.Errorf("creating %s from %s: %w", e.Username, e.DN, err)
		}
		rep.Created = append(rep.Created, e.Username)
	}
	for _, x := range plan.Disable {
		id := ids[x.Known.ID]
		if err := tx.SetUserDisabledBySync(id, true); err != nil {
			return err
		}
		n, err := tx.UserFobCount(id)
		if err != nil {
			return err
		}
		rep.Disabled = append(rep.Disabled, SyncDisabled{User: x.Known.Username, Reason: string(x.Reason), Fobs: n})
	}
	for _, u := range plan.Enable {
		if err := tx.SetUserDisabledBySync(ids[u.Known.ID], false); err != nil {
			return err
		}
		rep.Enabled = append(rep.Enabled, u.Known.Username)
	}
	for _, c := range plan.Conflicts {
		rep.Conflicts = append(rep.Conflicts, fmt.Sprintf("%s (%s) has the name of %s, whom the directory does not name", c.Entry.Username, c.Entry.DN, c.Holder.Username))
	}
	return nil
}

// RecordDirectoryDown writes in the audit log that the directory could not
// check a user's password and, as the fail mode is safe, the passcode
// alone decided.
func (d *Desk) RecordDirectoryDown(ctx context.Context, user, client string, cause error) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		return tx.Audit("keydesk", "directory unavailable", "user "+user,
			fmt.Sprintf("RADIUS client %s: the password could not be checked (%v); fail_mode safe let the passcode decide", client, cause))
	})
}

// AddRADIUSState keeps the State of an Access-Challenge until the second
// request, in the inventory, so that any server answers it.
func (d *Desk) AddRADIUSState(ctx context.Context, state []byte, st inventory.RADIUSState) error {
	return d.update(ctx, func(tx *inventory.Tx) error { return tx.AddRADIUSState(state, st) })
}

// TakeRADIUSState removes and returns the challenge of state: a State
// answers once.
func (d *Desk) TakeRADIUSState(ctx context.Context, state []byte) (st inventory.RADIUSState, found bool, err error) {
	err = d.update(ctx, func(tx *inventory.Tx) error {
		st, found, err = tx.TakeRADIUSState(state)
		return err
	})
	return st, found, err
}
