package desk

// Links of the self-service portal: an enrolment link lets a user add a
// first device, an activation link pair a phone app, without proving a
// device they do not have yet. The help desk vouches for the user by
// sending the link; the link's token is shown once.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// IssuedLink is a new link: its token, shown once and never again, goes
// at the end of the portal's address.
type IssuedLink struct {
	Link  inventory.Link `json:"link"`
	Token string         `json:"-"`
}

// tokenBytes is the randomness of a link, session or ceremony id: 256
// bits, far past guessing.
const tokenBytes = 32

// maxToken bounds what is looked up as a token.
const maxToken = 128

func (d *Desk) token() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(d.rand, b); err != nil {
		return "", fmt.Errorf("failed to draw a token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Invite makes an enrolment link for user, good for 30 days and until
// the user's first device is added through it. A link sent before and
// not used is replaced: one link at a time can enrol a user.
func (d *Desk) Invite(ctx context.Context, user string) (IssuedLink, error) {
	return d.issueLink(ctx, user, inventory.EnrolLink, func(tx *inventory.Tx, u inventory.User, live []inventory.Link) (string, error) {
		for _, l := range live {
			if err := tx.RevokeLink(l.ID); err != nil {
				return "", err
			}
		}
		if len(live) > 0 {
			return fmt.Sprintf(", replacing %d earlier link(s)", len(live)), nil
		}
		return "", nil
	})
}

// IssueActivationLink makes an activation link for user, good for 24
// hours and one phone app. It is refused while the user has one that
// still works ([verify.ErrActivationLive]).
func (d *Desk) IssueActivationLink(ctx context.Context, user string) (IssuedLink, error) {
	return d.issueLink(ctx, user, inventory.ActivateLink, func(_ *inventory.Tx, u inventory.User, live []inventory.Link) (string, error) {
		return "", verify.ActivationRoom(u.Name, live)
	})
}

func (d *Desk) issueLink(ctx context.Context, user string, kind inventory.LinkKind,
	room func(tx *inventory.Tx, u inventory.User, live []inventory.Link) (string, error)) (IssuedLink, error) {
	token, err := d.token()
	if err != nil {
		return IssuedLink{}, err
	}
	var out IssuedLink
	err = d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", u.Name)
		}
		live, err := tx.LiveLinks(u.ID, kind)
		if err != nil {
			return err
		}
		note, err := room(tx, u, live)
		if err != nil {
			return err
		}
		l, err := tx.AddLink(kind, u.ID, token, d.actor, tx.Now().Add(verify.DefaultLinkPolicy.TTL(kind)))
		if err != nil {
			return err
		}
		out = IssuedLink{Link: l, Token: token}
		action := map[inventory.LinkKind]string{inventory.EnrolLink: "user invite", inventory.ActivateLink: "phone activation link"}[kind]
		return tx.Audit(d.actor, action, "user "+u.Name, fmt.Sprintf("link #%d good until %s%s", l.ID, l.ExpiresAt.Format(time.RFC3339), note))
	})
	if err != nil {
		return IssuedLink{}, err
	}
	return out, nil
}

// ErrLink is wrapped by every error that keeps a link from opening; the
// error also wraps the verify.ErrLink value that says why.
var ErrLink = verify.Refusef("the link does not open")

type linkError struct{ why error }

func (e linkError) Error() string   { return e.why.Error() }
func (e linkError) Unwrap() []error { return []error{e.why, ErrLink} }
func refuseLink(err error) error {
	if err == nil {
		return nil
	}
	return linkError{err}
}

// OpenLink finds the link a token names and checks it may be used now
// for kind; the error wraps [ErrLink] and says why not (unknown,
// expired, used, replaced).
func (d *Desk) OpenLink(ctx context.Context, kind inventory.LinkKind, token string) (inventory.Link, error) {
	if token == "" || len(token) > maxToken {
		return inventory.Link{}, refuseLink(verify.ErrLinkUnknown)
	}
	l, err := d.store.LinkByToken(ctx, token)
	if errors.Is(err, inventory.ErrNotFound) {
		return inventory.Link{}, refuseLink(verify.ErrLinkUnknown)
	}
	if err != nil {
		return inventory.Link{}, err
	}
	if err := verify.OpenLink(l, kind, d.store.Now()); err != nil {
		return inventory.Link{}, refuseLink(err)
	}
	return l, nil
}
