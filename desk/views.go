package desk

import (
	"context"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// FobView is a fob as keydesk shows it, to a clerk or over the API:
// never its secrets.
type FobView struct {
	Serial     string    `json:"serial"`
	Kind       fob.Kind  `json:"kind"`
	Algorithm  string    `json:"algorithm,omitempty"`
	Digits     int       `json:"digits,omitempty"`
	Period     int       `json:"period,omitempty"`
	Counter    uint64    `json:"counter"`
	Drift      int       `json:"drift,omitempty"`
	PublicID   string    `json:"public_id,omitempty"`
	State      string    `json:"state"`
	Since      time.Time `json:"since"`
	Reason     string    `json:"reason,omitempty"` // why it was reported lost or revoked
	User       string    `json:"user,omitempty"`
	Batch      string    `json:"batch,omitempty"`
	FailCount  int       `json:"fail_count"`
	Locked     bool      `json:"locked"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Vendor     string    `json:"manufacturer,omitempty"`
	Model      string    `json:"model,omitempty"`
	// NotBefore and NotAfter are the seed file's dates, outside which the
	// fob is refused; zero when the file gave none.
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
}

// viewFob is the view of a stored fob. A lock whose cool-down is over
// shows as none: the next decision clears it anyway.
func (d *Desk) viewFob(f *inventory.Fob) FobView {
	t := &f.Token
	return FobView{Serial: t.Serial, Kind: t.Kind, Algorithm: string(t.Algorithm), Digits: t.Digits, Period: t.Period,
		Counter: t.Counter, Drift: t.Drift, PublicID: t.PublicID, State: string(f.State), Since: f.StateAt,
		User: f.User, Batch: f.Batch, FailCount: f.FailCount, Locked: d.ver.Policy().Locked(f.LockedAt, d.store.Now()), LastUsedAt: f.LastUsedAt,
		Vendor: t.Manufacturer, Model: t.Model, Reason: f.StateReason, NotBefore: t.NotBefore, NotAfter: t.NotAfter}
}

// Fobs lists the fobs a filter selects, as views.
func (d *Desk) Fobs(ctx context.Context, filter inventory.FobFilter) ([]FobView, error) {
	out := []FobView{}
	err := d.EachFob(ctx, filter, func(v FobView) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// EachFob calls fn with the view of each fob a filter selects, one at a
// time, for listings too long to hold.
func (d *Desk) EachFob(ctx context.Context, filter inventory.FobFilter, fn func(FobView) error) error {
	return d.store.Fobs(ctx, filter, func(f inventory.Fob) error { return fn(d.viewFob(&f)) })
}

// UserView is a user with what they hold: fobs (lost ones too), live
// bypass codes and security keys.
type UserView struct {
	inventory.User
	// DisabledReason is why the user was disabled, as the clerk said.
	DisabledReason string                 `json:"disabled_reason,omitempty"`
	Fobs           []FobView              `json:"fobs"`
	Bypass         []inventory.BypassCode `json:"bypass_codes"`
	Keys           []inventory.Key        `json:"keys"`
	// Attempts are the user's last decisions, newest first.
	Attempts []inventory.AuthEntry `json:"attempts"`
}

// recentAttempts is how many of a user's decisions UserDetail shows.
const recentAttempts = 5

// UserDetail reads a user and everything they hold.
func (d *Desk) UserDetail(ctx context.Context, name string) (UserView, error) {
	u, err := d.store.User(ctx, name)
	if err != nil {
		return UserView{}, err
	}
	v := UserView{User: u, Bypass: []inventory.BypassCode{}, Keys: []inventory.Key{}}
	if u.Disabled {
		if v.DisabledReason, err = d.store.DisabledReason(ctx, u.ID); err != nil {
			return UserView{}, err
		}
	}
	if v.Fobs, err = d.Fobs(ctx, inventory.FobFilter{User: u.Name}); err != nil {
		return UserView{}, err
	}
	if codes, err := d.store.BypassCodes(ctx, u.ID); err != nil {
		return UserView{}, err
	} else if codes != nil {
		v.Bypass = codes
	}
	if keys, err := d.store.UserKeys(ctx, u.Name); err != nil {
		return UserView{}, err
	} else if keys != nil {
		v.Keys = keys
	}
	if v.Attempts, err = d.AuthLog(ctx, inventory.AuthFilter{User: u.Name, Limit: recentAttempts}); err != nil {
		return UserView{}, err
	}
	return v, nil
}

// Fob is the view of one fob.
func (d *Desk) Fob(ctx context.Context, serial string) (FobView, error) {
	f, err := d.store.Fob(ctx, serial)
	if err != nil {
		return FobView{}, err
	}
	return d.viewFob(&f), nil
}

// FobCounts counts the inventory's fobs by state.
func (d *Desk) FobCounts(ctx context.Context) (map[inventory.State]int, error) {
	return d.store.FobCounts(ctx)
}

// Users lists the users a filter selects, by name.
func (d *Desk) Users(ctx context.Context, f inventory.UserFilter) ([]inventory.User, error) {
	return nonNil(d.store.Users(ctx, f))
}

// Batches lists what each delivery of fobs brought.
func (d *Desk) Batches(ctx context.Context) ([]inventory.Batch, error) {
	return nonNil(d.store.Batches(ctx))
}

// Applications lists the applications and RADIUS clients.
func (d *Desk) Applications(ctx context.Context) ([]inventory.Application, error) {
	return nonNil(d.store.Applications(ctx))
}

// Admins lists the server's administrators.
func (d *Desk) Admins(ctx context.Context) ([]inventory.Admin, error) {
	return nonNil(d.store.Admins(ctx))
}

// AuditLog is the entries of the audit log a filter selects, oldest
// first.
func (d *Desk) AuditLog(ctx context.Context, f inventory.AuditFilter) ([]inventory.AuditEntry, error) {
	out := []inventory.AuditEntry{}
	err := d.store.AuditLog(ctx, f, func(e inventory.AuditEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// VerifyAudit checks the audit chain: no entry changed, removed or
// inserted.
func (d *Desk) VerifyAudit(ctx context.Context) (inventory.AuditSummary, error) {
	return d.store.VerifyAudit(ctx)
}

// AuthLog is the decisions of the authentication log a filter selects,
// newest first: why a login failed.
func (d *Desk) AuthLog(ctx context.Context, f inventory.AuthFilter) ([]inventory.AuthEntry, error) {
	return nonNil(d.store.AuthLog(ctx, f))
}

// PruneAuthLog removes up to max decisions older than before from the
// authentication log, and says how many.
func (d *Desk) PruneAuthLog(ctx context.Context, before time.Time, max int) (int, error) {
	var n int
	err := d.update(ctx, func(tx *inventory.Tx) error {
		var err error
		n, err = tx.PruneAuthLog(before, max)
		return err
	})
	return n, err
}
