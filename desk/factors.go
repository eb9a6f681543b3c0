package desk

import (
	"context"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/inventory"
)

// Factors says what a user can sign in with now, so that an application
// asks for one of them.
type Factors struct {
	Passcode bool // an assigned fob or phone app, or a live bypass code
	WebAuthn bool // an active security key usable in the browser
	// Why there is none, when there is none.
	Why string
}

// Names are the factors in the words of POST /v1/preauth.
func (f Factors) Names() []string {
	out := []string{}
	if f.Passcode {
		out = append(out, "passcode")
	}
	if f.WebAuthn {
		out = append(out, "webauthn")
	}
	return out
}

// Factors reads what user can sign in with at site. An unknown,
// disabled or locked user has none.
func (d *Desk) Factors(ctx context.Context, site Site, user string) (Factors, error) {
	u, err := d.store.User(ctx, user)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		return Factors{Why: fmt.Sprintf("no user named %q", user)}, nil
	case err != nil:
		return Factors{}, err
	case u.Disabled:
		return Factors{Why: "user " + u.Name + " is disabled"}, nil
	case d.ver.Policy().Locked(u.LockedAt, d.store.Now()):
		return Factors{Why: "user " + u.Name + " is locked after failed passcodes"}, nil
	}
	var f Factors
	err = d.store.Fobs(ctx, inventory.FobFilter{User: u.Name, State: inventory.Assigned, Limit: 1}, func(inventory.Fob) error {
		f.Passcode = true
		return nil
	})
	if err != nil {
		return Factors{}, err
	}
	if !f.Passcode {
		codes, err := d.store.BypassCodes(ctx, u.ID)
		if err != nil {
			return Factors{}, err
		}
		for _, c := range codes {
			f.Passcode = f.Passcode || c.State(d.store.Now()) == inventory.BypassLive
		}
	}
	if site.RPID != "" {
		keys, err := d.store.UserKeys(ctx, u.Name)
		if err != nil {
			return Factors{}, err
		}
		f.WebAuthn = len(site.UsableKeys(keys)) > 0
	}
	if !f.Passcode && !f.WebAuthn {
		f.Why = "user " + u.Name + " has no active fob, phone app, security key or bypass code"
	}
	return f, nil
}
