package verify

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/keydesk/keydesk/inventory"
)

// ErrTooManyBypass is returned when issuing would pass the live limit.
var ErrTooManyBypass = Refusef("too many live bypass codes")

// BypassRequest asks for bypass codes for a user; zero fields take the
// policy's defaults.
type BypassRequest struct {
	User  string
	Uses  int
	TTL   time.Duration
	Count int
	Actor string
	Rand  io.Reader // crypto/rand when nil
}

// IssuedBypass is what issuing returns: the codes, shown once and never
// again, and when they stop working.
type IssuedBypass struct {
	Codes     []string  `json:"codes"`
	Uses      int       `json:"uses"`
	ExpiresAt time.Time `json:"expires_at"`
}

// IssueBypass makes bypass codes for a user, as Duo does: 9 random digits,
// by default good for one use or one hour, whichever comes first.
func (v *Verifier) IssueBypass(ctx context.Context, r BypassRequest) (IssuedBypass, error) {
	if r.Uses == 0 {
		r.Uses = v.policy.BypassUses
	}
	if r.TTL == 0 {
		r.TTL = v.policy.BypassTTL
	}
	if r.Count == 0 {
		r.Count = 1
	}
	if r.Rand == nil {
		r.Rand = rand.Reader
	}
	switch {
	case r.Uses < 1:
		return IssuedBypass{}, Refusef("a bypass code needs at least one use, not %d", r.Uses)
	case r.TTL < time.Minute:
		return IssuedBypass{}, Refusef("a bypass code lifetime of %s is under a minute", r.TTL)
	case r.Count < 1 || r.Count > v.policy.BypassMaxLive:
		return IssuedBypass{}, Refusef("cannot issue %d bypass codes at once (1 to %d)", r.Count, v.policy.BypassMaxLive)
	}
	codes := make([]string, r.Count)
	for i := range codes {
		c, err := bypassCode(r.Rand)
		if err != nil {
			return IssuedBypass{}, err
		}
		codes[i] = c
	}
	var out IssuedBypass
	err := v.store.Update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(r.User)
		if err != nil {
			return err
		}
		if u.Disabled {
			return Refusef("user %s is disabled", u.Name)
		}
		live, err := tx.LiveBypassCodes(u.ID)
		if err != nil {
			return err
		}
		if live+r.Count > v.policy.BypassMaxLive {
			return fmt.Errorf("%w: user %s has %d live codes, and %d more would pass the limit of %d; revoke some first",
				ErrTooManyBypass, u.Name, live, r.Count, v.policy.BypassMaxLive)
		}
		expires := tx.Now().Add(r.TTL)
		for _, c := range codes {
			if _, err := tx.AddBypassCode(u.ID, c, r.Uses, expires, r.Actor); err != nil {
				return err
			}
		}
		out = IssuedBypass{Codes: codes, Uses: r.Uses, ExpiresAt: expires.UTC().Truncate(time.Second)}
		return tx.Audit(r.Actor, "bypass issue", "user "+u.Name,
			fmt.Sprintf("%d code(s), %d use(s) each, expire %s", r.Count, r.Uses, out.ExpiresAt.Format(time.RFC3339)))
	})
	if err != nil {
		return IssuedBypass{}, err
	}
	return out, nil
}

// bypassCode draws 9 decimal digits uniformly.
func bypassCode(r io.Reader) (string, error) {
	n, err := rand.Int(r, big.NewInt(1_000_000_000))
	if err != nil {
		return "", fmt.Errorf("failed to draw a bypass code: %w", err)
	}
	return fmt.Sprintf("%0*d", BypassDigits, n.Int64()), nil
}

// RevokeBypass ends all of a user's live bypass codes.
func (v *Verifier) RevokeBypass(ctx context.Context, user, actor string) (int, error) {
	var n int
	err := v.store.Update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if n, err = tx.RevokeBypassCodes(u.ID); err != nil {
			return err
		}
		return tx.Audit(actor, "bypass revoke", "user "+u.Name, fmt.Sprintf("%d live code(s) ended", n))
	})
	return n, err
}
