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
	User       string    `json:"user,omitempty"`
	Batch      string    `json:"batch,omitempty"`
	FailCount  int       `json:"fail_count"`
	Locked     bool      `json:"locked"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Vendor     string    `json:"manufacturer,omitempty"`
	Model      string    `json:"model,omitempty"`
}

// ViewFob is the view of a stored fob.
func ViewFob(f *inventory.Fob) FobView {
	t := &f.Token
	return FobView{Serial: t.Serial, Kind: t.Kind, Algorithm: string(t.Algorithm), Digits: t.Digits, Period: t.Period,
		Counter: t.Counter, Drift: t.Drift, PublicID: t.PublicID, State: string(f.State), Since: f.StateAt,
		User: f.User, Batch: f.Batch, FailCount: f.FailCount, Locked: f.Locked(), LastUsedAt: f.LastUsedAt,
		Vendor: t.Manufacturer, Model: t.Model}
}

// Fobs lists the fobs a filter selects, as views.
func (d *Desk) Fobs(ctx context.Context, filter inventory.FobFilter) ([]FobView, error) {
	out := []FobView{}
	err := d.Store.Fobs(ctx, filter, func(f inventory.Fob) error {
		out = append(out, ViewFob(&f))
		return nil
	})
	return out, err
}

// UserView is a user with what they hold: fobs (lost ones too), live
// bypass codes and security keys.
type UserView struct {
	inventory.User
	Fobs   []FobView              `json:"fobs"`
	Bypass []inventory.BypassCode `json:"bypass_codes"`
	Keys   []inventory.Key        `json:"keys"`
}

// UserDetail reads a user and everything they hold.
func (d *Desk) UserDetail(ctx context.Context, name string) (UserView, error) {
	u, err := d.Store.User(ctx, name)
	if err != nil {
		return UserView{}, err
	}
	v := UserView{User: u, Bypass: []inventory.BypassCode{}, Keys: []inventory.Key{}}
	if v.Fobs, err = d.Fobs(ctx, inventory.FobFilter{User: u.Name}); err != nil {
		return UserView{}, err
	}
	if codes, err := d.Store.BypassCodes(ctx, u.ID); err != nil {
		return UserView{}, err
	} else if codes != nil {
		v.Bypass = codes
	}
	if keys, err := d.Store.UserKeys(ctx, u.Name); err != nil {
		return UserView{}, err
	} else if keys != nil {
		v.Keys = keys
	}
	return v, nil
}
