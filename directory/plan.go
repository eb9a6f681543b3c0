package directory

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// defaultMaxDisableShare is the share of directory users one sync may
// disable: a wrong filter or a scope group emptied by mistake disables
// many at once; a normal day's leavers are far fewer.
const defaultMaxDisableShare = 0.1

// Known is a user as keydesk holds it.
type Known struct {
	// ID is the directory's immutable id; empty for a user typed by hand,
	// whom a sync never touches.
	ID       string
	Username string
	FullName string
	Email    string
	Disabled bool
	// DisabledBySync says the sync disabled the user, so the sync may
	// enable them again; a user disabled at the desk stays disabled.
	DisabledBySync bool
}

// PlanOptions bound what one sync may do.
type PlanOptions struct {
	// MaxDisableShare is the share of the directory users keydesk holds
	// enabled that one plan may disable. Zero means 0.1.
	MaxDisableShare float64
	// Force lets a plan disable more than MaxDisableShare (an admin's
	// --force). It never lets an empty answer disable everyone.
	Force bool
}

// PlanOptions are the options of c's configuration.
func (c Config) PlanOptions() PlanOptions {
	return PlanOptions{MaxDisableShare: c.MaxDisableShare}
}

// DisableReason says why a sync disables a user.
type DisableReason string

const (
	LeftScope           DisableReason = "left the scope group"
	DisabledInDirectory DisableReason = "disabled in the directory"
)

// Plan is what a sync would change. Users are never deleted.
type Plan struct {
	// Create are the directory users keydesk does not hold, enabled ones
	// only.
	Create []Entry
	// Update are users whose name, full name or e-mail changed in the
	// directory; matched by ID, so a rename keeps the record.
	Update []Update
	// Disable are enabled users who left the scope group or are disabled
	// in the directory.
	Disable []Disable
	// Enable are users the sync disabled who are back and enabled.
	Enable []Update
	// Conflicts are directory users whose name keydesk gives to another
	// record: neither is changed; the desk sorts it out.
	Conflicts []Conflict
}

// Update pairs a user as keydesk holds it with the directory's entry.
type Update struct {
	Known Known
	Entry Entry
}

// Renamed tells whether the update changes the user's name.
func (u Update) Renamed() bool { return u.Known.Username != u.Entry.Username }

// Disable is a user to disable, and why.
type Disable struct {
	Known  Known
	Reason DisableReason
}

// Conflict is a directory entry whose name is taken in keydesk by Holder,
// a user typed by hand or one with another directory id.
type Conflict struct {
	Entry  Entry
	Holder Known
}

// GuardError is returned by [PlanSync] when a plan would disable too many
// users; it matches [ErrGuard]. Nothing is to be applied.
type GuardError struct {
	Found    int     // users in the directory's answer
	Held     int     // enabled directory users keydesk holds
	Disable  int     // users the plan would disable
	MaxShare float64 // the share allowed
}

func (e *GuardError) Error() string {
	if e.Found == 0 {
		return fmt.Sprintf("directory: the directory returned 0 users; keydesk holds %d from it: refusing to disable them all", e.Held)
	}
	return fmt.Sprintf("directory: the sync would disable %d of the %d users keydesk holds from the directory (%.0f%%), more than the %.0f%% allowed: refusing (use --force if this is meant)",
		e.Disable, e.Held, 100*float64(e.Disable)/float64(e.Held), 100*e.MaxShare)
}

func (e *GuardError) Is(target error) bool { return target == ErrGuard }

// PlanSync compares the users keydesk holds with those the directory
// found (from [Client.Members]) and says what to change. It is pure: the
// desk applies the plan. Matching is by ID only, never by name. A plan
// that would disable more than opts.MaxDisableShare of the enabled
// directory users, or an empty answer while keydesk holds directory
// users, returns a *GuardError and no plan.
func PlanSync(current []Known, found []Entry, opts PlanOptions) (Plan, error) {
	share := opts.MaxDisableShare
	if share == 0 {
		share = defaultMaxDisableShare
	}
	if !(share > 0 && share <= 1) || math.IsNaN(share) {
		return Plan{}, fmt.Errorf("directory: plan: max disable share %v: want more than 0, at most 1", share)
	}
	known, names, err := indexKnown(current)
	if err != nil {
		return Plan{}, err
	}
	inDirectory := map[string]Entry{}
	for i, e := range found {
		if _, dup := inDirectory[e.ID]; dup || e.ID == "" {
			return Plan{}, fmt.Errorf("directory: plan: found entry %d (%s): id %q empty or repeated", i+1, e.DN, e.ID)
		}
		inDirectory[e.ID] = e
	}
	var p Plan
	for _, e := range found {
		k, held := known[e.ID]
		// A new user, or a new name, must not take the name of another
		// record, unless that record is renamed away in this same plan.
		needsName := (!held && !e.Disabled) || (held && !strings.EqualFold(k.Username, e.Username))
		if holder, taken := names[strings.ToLower(e.Username)]; needsName && taken && !renamedAway(holder, inDirectory) {
			p.Conflicts = append(p.Conflicts, Conflict{Entry: e, Holder: holder})
		} else if !held && !e.Disabled {
			p.Create = append(p.Create, e)
		} else if held && (k.Username != e.Username || k.FullName != e.FullName || k.Email != e.Email) {
			p.Update = append(p.Update, Update{Known: k, Entry: e})
		}
		switch {
		case held && !k.Disabled && e.Disabled:
			p.Disable = append(p.Disable, Disable{Known: k, Reason: DisabledInDirectory})
		case held && k.Disabled && k.DisabledBySync && !e.Disabled:
			p.Enable = append(p.Enable, Update{Known: k, Entry: e})
		}
	}
	held := 0
	for _, k := range current {
		if k.ID == "" || k.Disabled {
			continue
		}
		held++
		if _, in := inDirectory[k.ID]; !in {
			p.Disable = append(p.Disable, Disable{Known: k, Reason: LeftScope})
		}
	}
	if held > 0 && len(found) == 0 {
		return Plan{}, &GuardError{Held: held, MaxShare: share}
	}
	if !opts.Force && float64(len(p.Disable)) > share*float64(held) {
		return Plan{}, &GuardError{Found: len(found), Held: held, Disable: len(p.Disable), MaxShare: share}
	}
	p.sort()
	return p, nil
}

// indexKnown indexes the users keydesk holds by directory id and by name
// (names compare without case, as Active Directory's do).
func indexKnown(current []Known) (map[string]Known, map[string]Known, error) {
	byID := map[string]Known{}
	byName := map[string]Known{}
	for i, k := range current {
		name := strings.ToLower(k.Username)
		if _, dup := byName[name]; dup || name == "" {
			return nil, nil, fmt.Errorf("directory: plan: keydesk user %d: name %q empty or repeated", i+1, k.Username)
		}
		byName[name] = k
		if k.ID == "" {
			continue
		}
		if _, dup := byID[k.ID]; dup {
			return nil, nil, fmt.Errorf("directory: plan: keydesk user %d (%s): directory id %q repeated", i+1, k.Username, k.ID)
		}
		byID[k.ID] = k
	}
	return byID, byName, nil
}

// renamedAway tells whether holder, a directory user, takes another name
// in this answer: then its old name is free in the same plan.
func renamedAway(holder Known, inDirectory map[string]Entry) bool {
	e, in := inDirectory[holder.ID]
	return holder.ID != "" && in && !strings.EqualFold(e.Username, holder.Username)
}

func (p *Plan) sort() {
	slices.SortFunc(p.Create, func(a, b Entry) int { return strings.Compare(a.Username, b.Username) })
	byName := func(a, b Update) int { return strings.Compare(a.Known.Username, b.Known.Username) }
	slices.SortFunc(p.Update, byName)
	slices.SortFunc(p.Enable, byName)
	slices.SortFunc(p.Disable, func(a, b Disable) int { return strings.Compare(a.Known.Username, b.Known.Username) })
	slices.SortFunc(p.Conflicts, func(a, b Conflict) int { return strings.Compare(a.Entry.Username, b.Entry.Username) })
}

// Empty tells whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Create)+len(p.Update)+len(p.Disable)+len(p.Enable)+len(p.Conflicts) == 0
}
