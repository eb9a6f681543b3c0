package desk

// The help desk's reports: who has no factor, what is on the shelf, what
// nobody uses, what expires, what is locked, which bypass codes are live.
// The inventory counts and selects; the policy says whether a lock holds.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// The reports, by the names the CLI and the admin API give them.
const (
	ReportNoFactor = "no-factor"
	ReportStock    = "stock"
	ReportUnused   = "unused"
	ReportExpiring = "expiring"
	ReportLocked   = "locked"
	ReportBypass   = "bypass"
)

// Reports names every report, in the order help lists them.
var Reports = []string{ReportNoFactor, ReportStock, ReportUnused, ReportExpiring, ReportLocked, ReportBypass}

// DefaultDays is the --days of the reports that take one, when not given.
var DefaultDays = map[string]int{ReportUnused: 90, ReportExpiring: 30}

// MaxDays bounds --days: ten years.
const MaxDays = 3650

// Errors of [Desk.Report].
var (
	ErrNoReport = verify.Refusef("no such report")
	ErrCursor   = verify.Refusef("not a cursor of this report")
)

// ReportQuery says which rows of a report to give. Days is the unused
// report's idle time and the expiring report's horizon, DefaultDays when
// 0. Long reports (no-factor, unused, expiring, bypass) are paged: After
// is the Next of the page before, Limit the most rows (all when 0).
type ReportQuery struct {
	Days  int
	After string
	Limit int
}

// Report is one report as of a moment: its rows, a slice of the report's
// own row type, and where the next page starts if there may be one.
type Report struct {
	Name string    `json:"report"`
	AsOf time.Time `json:"as_of"`
	Days int       `json:"days,omitempty"`
	Rows any       `json:"rows"`
	Next string    `json:"next,omitempty"`
}

// LockedNow is a lock that holds now, and when it ends by itself (the
// zero time when only an admin unlocks).
type LockedNow struct {
	inventory.Lock
	EndsAt time.Time `json:"ends_at,omitzero"`
}

// ExpiringFob is a fob whose seed file's expiry date is near, or past.
type ExpiringFob struct {
	inventory.ExpiringFob
	Expired bool `json:"expired"`
}

// Report makes the report named name.
func (d *Desk) Report(ctx context.Context, name string, q ReportQuery) (Report, error) {
	now := d.store.Now()
	r := Report{Name: name, AsOf: now.UTC().Truncate(time.Second)}
	if def, ok := DefaultDays[name]; ok {
		if q.Days == 0 {
			q.Days = def
		}
		if q.Days < 1 || q.Days > MaxDays {
			return Report{}, verify.Refusef("the %s report's days must be 1 to %d, not %d", name, MaxDays, q.Days)
		}
		r.Days = q.Days
	} else if q.Days != 0 {
		return Report{}, verify.Refusef("the %s report takes no days", name)
	}
	if q.Limit < 0 {
		return Report{}, verify.Refusef("a report's limit must be positive")
	}
	var err error
	switch name {
	case ReportNoFactor:
		var users []inventory.NoFactorUser
		users, err = d.store.NoFactorUsers(ctx, now, inventory.Page{After: q.After, Limit: q.Limit})
		r.Rows, r.Next = paged(users, q.Limit, func(u inventory.NoFactorUser) string { return u.Name })
	case ReportStock:
		r.Rows, err = nonNil(d.store.Stock(ctx))
	case ReportUnused:
		r.Rows, r.Next, err = d.unused(ctx, now.Add(-days(q.Days)), q)
	case ReportExpiring:
		r.Rows, r.Next, err = d.expiring(ctx, now, q)
	case ReportLocked:
		r.Rows, err = d.locked(ctx, now)
	case ReportBypass:
		r.Rows, r.Next, err = d.liveBypass(ctx, now, q)
	default:
		return Report{}, fmt.Errorf("%w: %q (the reports are %s)", ErrNoReport, name, strings.Join(Reports, ", "))
	}
	if err != nil {
		return Report{}, err
	}
	return r, nil
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// paged is a page of rows, never nil, and the cursor of the next page
// when the page is full.
func paged[T any](rows []T, limit int, cursor func(T) string) ([]T, string) {
	if rows == nil {
		rows = []T{}
	}
	if limit > 0 && len(rows) == limit {
		return rows, cursor(rows[len(rows)-1])
	}
	return rows, ""
}

// liveBypass lists the live bypass codes by user and expiry; its cursor
// is a code's number.
func (d *Desk) liveBypass(ctx context.Context, now time.Time, q ReportQuery) ([]inventory.LiveBypass, string, error) {
	var after int64
	if q.After != "" {
		n, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || n < 1 {
			return nil, "", fmt.Errorf("%w: the bypass report's cursor is a code's number, not %q", ErrCursor, q.After)
		}
		after = n
	}
	codes, err := d.store.LiveBypassCodes(ctx, now, after, q.Limit)
	if err != nil {
		return nil, "", err
	}
	rows, next := paged(codes, q.Limit, func(b inventory.LiveBypass) string { return strconv.FormatInt(b.ID, 10) })
	return rows, next, nil
}

// unused lists the assigned fobs, then the keys, idle since before
// cutoff. Its cursor is "fob:SERIAL" or "key:NUMBER".
func (d *Desk) unused(ctx context.Context, cutoff time.Time, q ReportQuery) ([]inventory.UnusedFactor, string, error) {
	kind, at, _ := strings.Cut(q.After, ":")
	if q.After != "" && kind != "fob" && kind != "key" {
		return nil, "", fmt.Errorf("%w: the unused report's cursor is fob:SERIAL or key:NUMBER, not %q", ErrCursor, q.After)
	}
	out := []inventory.UnusedFactor{}
	var afterKey int64
	if kind != "key" {
		fobs, err := d.store.UnusedFobs(ctx, cutoff, inventory.Page{After: at, Limit: q.Limit})
		if err != nil {
			return nil, "", err
		}
		out = append(out, fobs...)
	} else if n, err := strconv.ParseInt(at, 10, 64); err == nil && n > 0 {
		afterKey = n
	} else {
		return nil, "", fmt.Errorf("%w: the unused report's cursor is fob:SERIAL or key:NUMBER, not %q", ErrCursor, q.After)
	}
	if q.Limit == 0 || len(out) < q.Limit {
		keys, err := d.store.UnusedKeys(ctx, cutoff, afterKey, q.Limit-len(out))
		if err != nil {
			return nil, "", err
		}
		out = append(out, keys...)
	}
	rows, next := paged(out, q.Limit, func(f inventory.UnusedFactor) string {
		if f.Kind == "key" {
			return "key:" + strconv.FormatInt(f.KeyID, 10)
		}
		return "fob:" + f.Serial
	})
	return rows, next, nil
}

func (d *Desk) expiring(ctx context.Context, now time.Time, q ReportQuery) ([]ExpiringFob, string, error) {
	fobs, err := d.store.ExpiringFobs(ctx, now.Add(days(q.Days)), inventory.Page{After: q.After, Limit: q.Limit})
	if err != nil {
		return nil, "", err
	}
	out := make([]ExpiringFob, len(fobs))
	for i, f := range fobs {
		// verify refuses a fob from its expiry date on.
		out[i] = ExpiringFob{ExpiringFob: f, Expired: !now.Before(f.NotAfter)}
	}
	rows, next := paged(out, q.Limit, func(f ExpiringFob) string { return f.Serial })
	return rows, next, nil
}

// locked lists the locks that hold now: a lock past its cool-down has
// ended, though its row keeps the time it was set until the next
// decision about it clears it.
func (d *Desk) locked(ctx context.Context, now time.Time) ([]LockedNow, error) {
	p := d.ver.Policy()
	var since time.Time
	if p.LockoutCooldown > 0 {
		since = now.Add(-p.LockoutCooldown).Truncate(time.Second)
	}
	locks, err := d.store.Locks(ctx, since)
	if err != nil {
		return nil, err
	}
	out := []LockedNow{}
	for _, l := range locks {
		if p.Locked(l.LockedAt, now) {
			out = append(out, LockedNow{Lock: l, EndsAt: p.LockEnd(l.LockedAt)})
		}
	}
	return out, nil
}

// UsersWithFactors lists the users a filter selects, by name, each with
// the count of the usable factors they hold now.
func (d *Desk) UsersWithFactors(ctx context.Context, f inventory.UserFilter) ([]inventory.UserFactors, error) {
	return nonNil(d.store.UsersWithFactors(ctx, f, d.store.Now()))
}

// FobTotals counts the fobs a filter selects, by state and by kind.
func (d *Desk) FobTotals(ctx context.Context, filter inventory.FobFilter) (inventory.FobTotals, error) {
	return d.store.FobTotals(ctx, filter)
}
