package desk

// Bypass codes: issued for a user without a device, shown once, stored as
// keyed hashes.

import (
	"context"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// IssuedBypass is what issuing returns: the codes, shown once and never
// again, and when they stop working.
type IssuedBypass struct {
	User      string    `json:"user"`
	Codes     []string  `json:"codes"`
	Uses      int       `json:"uses"`
	ExpiresAt time.Time `json:"expires_at"`
}

// IssueBypass makes bypass codes for a user under the policy's rules
// (verify.Policy.Bypass): by default one code, good for one use or one
// hour, whichever comes first.
func (d *Desk) IssueBypass(ctx context.Context, r verify.BypassRequest) (IssuedBypass, error) {
	p := d.ver.Policy()
	r, err := p.Bypass(r)
	if err != nil {
		return IssuedBypass{}, err
	}
	codes, err := verify.NewBypassCodes(d.rand, r.Count)
	if err != nil {
		return IssuedBypass{}, err
	}
	var out IssuedBypass
	err = d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(r.User)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", u.Name)
		}
		live, err := tx.LiveBypassCodes(u.ID)
		if err != nil {
			return err
		}
		if err := p.BypassRoom(u.Name, live, r.Count); err != nil {
			return err
		}
		expires := tx.Now().Add(r.TTL)
		for _, c := range codes {
			if _, err := tx.AddBypassCode(u.ID, c, r.Uses, expires, d.actor); err != nil {
				return err
			}
		}
		out = IssuedBypass{User: u.Name, Codes: codes, Uses: r.Uses, ExpiresAt: expires.UTC().Truncate(time.Second)}
		return tx.Audit(d.actor, "bypass issue", "user "+u.Name,
			fmt.Sprintf("%d code(s), %d use(s) each, expire %s", r.Count, r.Uses, out.ExpiresAt.Format(time.RFC3339)))
	})
	if err != nil {
		return IssuedBypass{}, err
	}
	return out, nil
}

// RevokeBypass ends all of a user's live bypass codes and says how many.
func (d *Desk) RevokeBypass(ctx context.Context, user string) (int, error) {
	var n int
	err := d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if n, err = tx.RevokeBypassCodes(u.ID); err != nil {
			return err
		}
		return tx.Audit(d.actor, "bypass revoke", "user "+u.Name, fmt.Sprintf("%d live code(s) ended", n))
	})
	return n, err
}

// BypassCodes lists a user's live bypass codes: when they expire and how
// many uses are left, never the codes.
func (d *Desk) BypassCodes(ctx context.Context, user string) ([]inventory.BypassCode, error) {
	u, err := d.store.User(ctx, user)
	if err != nil {
		return nil, err
	}
	return nonNil(d.store.BypassCodes(ctx, u.ID))
}

// nonNil makes an empty listing an empty list, so JSON says [] not null.
func nonNil[T any](list []T, err error) ([]T, error) {
	if list == nil && err == nil {
		list = []T{}
	}
	return list, err
}
