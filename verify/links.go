package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/inventory"
)

// LinkPolicy is how long the portal's links last (enrolment
// 30 days, activation 24 hours, as Duo has them).
type LinkPolicy struct {
	Enrolment  time.Duration
	Activation time.Duration
	// Pairing is how long a phone app shown in the portal or at the desk
	// waits for its first code.
	Pairing time.Duration
}

// DefaultLinkPolicy is the help desk's usual rules.
var DefaultLinkPolicy = LinkPolicy{Enrolment: 30 * 24 * time.Hour, Activation: 24 * time.Hour, Pairing: 24 * time.Hour}

// Why a link does not open. A link that was real says which way it ended.
var (
	ErrLinkUnknown = errors.New("this link is not one keydesk made")
	ErrLinkExpired = errors.New("this link has expired")
	ErrLinkUsed    = errors.New("this link was used already")
	ErrLinkRevoked = errors.New("this link was replaced by a newer one")
)

// TTL is how long a link of kind lasts.
func (p LinkPolicy) TTL(kind inventory.LinkKind) time.Duration {
	if kind == inventory.ActivateLink {
		return p.Activation
	}
	return p.Enrolment
}

// OpenLink decides whether link may be used at now for want; the error
// wraps one of the ErrLink values.
func OpenLink(l inventory.Link, want inventory.LinkKind, now time.Time) error {
	if l.Kind != want {
		return fmt.Errorf("%w: it is an %s link", ErrLinkUnknown, l.Kind)
	}
	switch l.State(now) {
	case inventory.LinkExpired:
		return fmt.Errorf("%w: it was good until %s", ErrLinkExpired, clock(l.ExpiresAt))
	case inventory.LinkUsed:
		return fmt.Errorf("%w, at %s", ErrLinkUsed, clock(l.UsedAt))
	case inventory.LinkRevoked:
		return ErrLinkRevoked
	}
	return nil
}

// ErrActivationLive refuses a new activation link while the user has one
// that still works: one pairing at a time, as Duo does.
var ErrActivationLive = Refusef("the user has an activation link that still works")

// ActivationRoom decides whether user may get a new activation link while
// holding the live ones.
func ActivationRoom(user string, live []inventory.Link) error {
	if len(live) == 0 {
		return nil
	}
	return fmt.Errorf("%w (sent by %s, good until %s); wait for it to be used or to expire", ErrActivationLive, live[0].CreatedBy, clock(live[0].ExpiresAt))
}
