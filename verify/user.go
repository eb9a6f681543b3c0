package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// VerifyUser checks a user's passcode: a code from any fob assigned to the
// user, or one of the user's bypass codes. Failures count against the
// user, since a wrong code cannot be pinned on one of several fobs; at the
// lockout limit the user is locked until an admin unlocks.
func (v *Verifier) VerifyUser(ctx context.Context, name, code string) (Decision, error) {
	code = fob.NormalizeCode(code)
	var d Decision
	err := v.store.Update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(name)
		if errors.Is(err, inventory.ErrNotFound) {
			d = deny(ErrUnknownUser, "no user named %q", name)
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case u.Disabled:
			d = deny(ErrUserDisabled, "user %s is disabled", name)
			return nil
		case u.Locked():
			d = deny(ErrUserLocked, "user %s is locked after %d failed passcodes; an admin can unlock (keydesk user unlock %s)",
				name, u.FailCount, name)
			return nil
		}
		if d, err = v.userPasscode(tx, &u, code); err != nil {
			return err
		}
		return v.settleUser(tx, &u, &d)
	})
	return d, err
}

func (v *Verifier) userPasscode(tx *inventory.Tx, u *inventory.User, code string) (Decision, error) {
	if fob.IsDigits(code, BypassDigits) {
		c, ok, err := tx.UseBypassCode(u.ID, code)
		if err != nil || !ok {
			return deny(ErrWrongCode, "not a live bypass code of user %s", u.Name), err
		}
		return Decision{Allow: true, Method: "bypass", UsesLeft: c.UsesLeft}, nil
	}
	fobs, err := tx.UserFobs(u.ID)
	if err != nil {
		return Decision{}, err
	}
	var candidates, refused, retired []*inventory.Fob
	for i := range fobs {
		f := &fobs[i]
		if f.State != inventory.Assigned {
			retired = append(retired, f) // lost fobs stay linked to the user but never answer
			continue
		}
		if refuseFob(f).Denial != nil {
			refused = append(refused, f)
			continue
		}
		candidates = append(candidates, f)
	}
	if len(candidates) == 0 {
		if len(refused) > 0 {
			return refuseFob(refused[0]), nil
		}
		why := ""
		if len(retired) > 0 {
			why = " (" + refuseFob(retired[0]).Denial.Error() + ")"
		}
		return deny(ErrNoFactor, "user %s has no assigned fob%s; issue a bypass code or assign a fob", u.Name, why), nil
	}
	// The most telling denial is kept: a replay says more than a wrong
	// code, and a wrong code more than a code of the wrong shape.
	var best match
	for _, f := range candidates {
		if !fits(f, code) {
			continue
		}
		m := v.check(f, code, tx.Now())
		if m.denial == nil {
			return v.settle(tx, f, m)
		}
		if best.denial == nil || errors.Is(m.denial, ErrReplay) {
			best = m
		}
	}
	if best.denial == nil {
		return deny(ErrMalformed, "what was typed (%d characters) is not a code any fob of user %s shows, nor a %d-digit bypass code",
			len(code), u.Name, BypassDigits), nil
	}
	return Decision{Denial: best.denial}, nil
}

// fits reports whether code has the shape of the codes f shows, so a
// fob is only asked about codes it could have made.
func fits(f *inventory.Fob, code string) bool {
	if f.Token.Kind == fob.Yubico {
		_, _, err := fob.SplitYubicoOTP(code)
		return err == nil
	}
	return fob.IsDigits(code, f.Token.Digits)
}

// settleUser keeps the user's failure count: a success resets it, a
// failed passcode counts, and the limit locks the user.
func (v *Verifier) settleUser(tx *inventory.Tx, u *inventory.User, d *Decision) error {
	if d.Allow {
		if d.Method == "bypass" {
			if err := tx.Audit("keydesk", "bypass code used", "user "+u.Name, fmt.Sprintf("%d uses left", d.UsesLeft)); err != nil {
				return err
			}
		}
		if u.FailCount == 0 {
			return nil
		}
		return tx.ResetUserFailures(u.ID)
	}
	if !counts(d.Denial) {
		return nil
	}
	n, lockedNow, err := tx.RecordUserFailure(u.ID, v.policy.LockoutAfter)
	if err != nil || !lockedNow {
		return err
	}
	d.LockedNow = true
	d.Denial = fmt.Errorf("%w; user %s is now locked after %d failed passcodes", d.Denial, u.Name, n)
	return tx.Audit("keydesk", "user locked", "user "+u.Name, fmt.Sprintf("%d consecutive failed passcodes", n))
}

// counts reports whether a denial is a failed guess, which the lockout
// counts, rather than a refusal made before any code was compared.
func counts(denial error) bool {
	for _, err := range []error{ErrWrongCode, ErrReplay, ErrMalformed} {
		if errors.Is(denial, err) {
			return true
		}
	}
	return false
}
