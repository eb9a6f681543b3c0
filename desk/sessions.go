package desk

// Sessions of the self-service portal, kept in the inventory so that
// every server on one database knows them.

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// SessionPolicy is how long a portal session lasts: Idle since it was
// last used, and Max however much it is used.
type SessionPolicy struct {
	Idle time.Duration
	Max  time.Duration
}

// NewSession is a session just started: ID goes in the browser's cookie
// and is never stored.
type NewSession struct {
	ID      string
	Session inventory.Session
}

// ErrNoSession is a cookie that names no live session.
var ErrNoSession = errors.New("no live session")

// touchEvery is how stale a session's last use may be before a request
// records it again: a page view need not be a write.
const touchEvery = time.Minute

// StartVisit starts a session for a browser not signed in: it may sign
// in, and its forms carry its CSRF token.
func (d *Desk) StartVisit(ctx context.Context, p SessionPolicy) (NewSession, error) {
	return d.startSession(ctx, p, inventory.Session{Kind: inventory.Visitor}, nil)
}

// SignIn ends session from (a visit) and starts a signed-in one for a
// user who has just proved a factor: a new id, so that an id known
// before the sign-in is worth nothing after it. The decision that let the
// user in is in the authentication log already.
func (d *Desk) SignIn(ctx context.Context, p SessionPolicy, from int64, user, factor string) (NewSession, error) {
	return d.startSession(ctx, p, inventory.Session{Kind: inventory.SignedIn, Factor: factor}, func(tx *inventory.Tx, s *inventory.Session) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		s.UserID = u.ID
		if from != 0 {
			return tx.EndSession(from)
		}
		return nil
	})
}

// OpenLinkSession starts the session of a browser that opened a live
// link: an enrolment session may add a first device, an activation
// session pair one phone app.
func (d *Desk) OpenLinkSession(ctx context.Context, p SessionPolicy, from int64, l inventory.Link) (NewSession, error) {
	kind := map[inventory.LinkKind]inventory.SessionKind{inventory.EnrolLink: inventory.Enrolling, inventory.ActivateLink: inventory.Activating}[l.Kind]
	return d.startSession(ctx, p, inventory.Session{Kind: kind, UserID: l.UserID, LinkID: l.ID}, func(tx *inventory.Tx, s *inventory.Session) error {
		current, err := tx.Link(l.ID)
		if err != nil {
			return err
		}
		if err := refuseLink(verify.OpenLink(current, l.Kind, tx.Now())); err != nil {
			return err
		}
		// A link's session ends when the link does.
		if current.ExpiresAt.Before(s.EndsAt) {
			s.EndsAt = current.ExpiresAt
		}
		if from != 0 {
			return tx.EndSession(from)
		}
		return nil
	})
}

func (d *Desk) startSession(ctx context.Context, p SessionPolicy, s inventory.Session, prepare func(*inventory.Tx, *inventory.Session) error) (NewSession, error) {
	id, err := d.token()
	if err != nil {
		return NewSession{}, err
	}
	s.CSRF = make([]byte, tokenBytes)
	if _, err := io.ReadFull(d.rand, s.CSRF); err != nil {
		return NewSession{}, fmt.Errorf("failed to draw a token: %w", err)
	}
	var out NewSession
	err = d.update(ctx, func(tx *inventory.Tx) error {
		s.ExpiresAt, s.EndsAt = tx.Now().Add(p.Idle), tx.Now().Add(p.Max)
		if prepare != nil {
			if err := prepare(tx, &s); err != nil {
				return err
			}
		}
		if s.ExpiresAt.After(s.EndsAt) {
			s.ExpiresAt = s.EndsAt
		}
		stored, err := tx.AddSession(id, s)
		out = NewSession{ID: id, Session: stored}
		return err
	})
	if err != nil {
		return NewSession{}, err
	}
	return out, nil
}

// Session is the live session a cookie names, its last use recorded;
// [ErrNoSession] if there is none, it ended, its user was disabled, or
// the link it came from is no longer live.
func (d *Desk) Session(ctx context.Context, p SessionPolicy, id string) (inventory.Session, error) {
	if id == "" || len(id) > maxToken {
		return inventory.Session{}, ErrNoSession
	}
	s, err := d.store.SessionByID(ctx, id)
	if errors.Is(err, inventory.ErrNotFound) {
		return inventory.Session{}, ErrNoSession
	}
	if err != nil {
		return inventory.Session{}, err
	}
	now := d.store.Now()
	if !s.Live(now) {
		return inventory.Session{}, ErrNoSession
	}
	if s.UserID != 0 {
		u, err := d.store.User(ctx, s.User)
		if err != nil || u.Disabled {
			return inventory.Session{}, ErrNoSession
		}
	}
	// A link's session lasts as long as the link is live: used by
	// another browser, or replaced, it lets nobody in any more.
	if s.LinkID != 0 && s.Kind != inventory.SignedIn {
		l, err := d.store.Link(ctx, s.LinkID)
		if err != nil || l.State(now) != inventory.LinkLive {
			return inventory.Session{}, ErrNoSession
		}
	}
	if now.Sub(s.SeenAt) >= touchEvery {
		err := d.update(ctx, func(tx *inventory.Tx) error { return tx.TouchSession(s.ID, tx.Now().Add(p.Idle)) })
		if err != nil {
			return inventory.Session{}, err
		}
	}
	return s, nil
}

// EndSession ends a session, as signing out does.
func (d *Desk) EndSession(ctx context.Context, id int64) error {
	return d.update(ctx, func(tx *inventory.Tx) error { return tx.EndSession(id) })
}

// CheckCSRF reports whether a form's token is its session's, in constant
// time.
func CheckCSRF(s inventory.Session, token []byte) bool {
	return len(s.CSRF) > 0 && subtle.ConstantTimeCompare(s.CSRF, token) == 1
}
