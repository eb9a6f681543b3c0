package verify

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// VerifyUser checks a user's passcode: a code from any fob assigned to the
// user, or one of the user's bypass codes. Failures count against the
// user, since a wrong code cannot be pinned on one of several fobs; at the
// lockout limit the user is locked, until the cool-down is over or an
// admin unlocks.
func (v *Verifier) VerifyUser(ctx context.Context, name, code string, from Origin) (Decision, error) {
	start := time.Now()
	code = fob.NormalizeCode(code)
	var d Decision
	defer func() { v.denials.pace(start, d) }()
	err := v.store.Update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(name)
		if errors.Is(err, inventory.ErrNotFound) {
			d = deny(ErrUnknownUser, "no user named %q", name)
			return Record(tx, name, from, d)
		}
		if err != nil {
			return err
		}
		if d, err = v.userDecision(tx, &u, code); err != nil {
			return err
		}
		return Record(tx, u.Name, from, d)
	})
	return d, err
}

func (v *Verifier) userDecision(tx *inventory.Tx, u *inventory.User, code string) (Decision, error) {
	if err := v.endUserLock(tx, u); err != nil {
		return Decision{}, err
	}
	switch {
	case u.Disabled:
		return deny(ErrUserDisabled, "user %s is disabled", u.Name), nil
	case v.policy.Locked(u.LockedAt, tx.Now()):
		return deny(ErrUserLocked, "user %s is locked after %d failed passcodes since %s; %s (keydesk user unlock %s)",
			u.Name, u.FailCount, clock(u.LockedAt), v.policy.lockEnds(u.LockedAt), u.Name), nil
	}
	d, err := v.userPasscode(tx, u, code)
	if err != nil {
		return Decision{}, err
	}
	return d, v.settleUser(tx, u, &d)
}

func (v *Verifier) userPasscode(tx *inventory.Tx, u *inventory.User, code string) (Decision, error) {
	if fob.IsDigits(code, BypassDigits) {
		return v.bypassCode(tx, u, code)
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
		if err := v.endFobLock(tx, f); err != nil {
			return Decision{}, err
		}
		if v.policy.refuseFob(f, tx.Now()).Denial != nil {
			refused = append(refused, f)
			continue
		}
		candidates = append(candidates, f)
	}
	// The most telling denial is kept: a replay says more than a wrong
	// code, and a wrong code more than a code of the wrong shape.
	var best match
	var bestFob *inventory.Fob
	for _, f := range candidates {
		if !fits(f, code) {
			continue
		}
		m := v.check(f, code, tx.Now())
		if m.denial == nil {
			return v.settle(tx, f, m)
		}
		if best.denial == nil || errors.Is(m.denial, ErrReplay) {
			best, bestFob = m, f
		}
	}
	if best.denial == nil || !errors.Is(best.denial, ErrReplay) {
		// A right code from a fob that was lost or revoked says more than
		// any other answer: someone has that fob.
		for _, f := range retired {
			if fits(f, code) && v.check(f, code, tx.Now()).denial == nil {
				d := v.policy.refuseFob(f, tx.Now())
				d.Serial = f.Token.Serial
				return d, v.auditRetired(tx, f, code)
			}
		}
	}
	switch {
	case best.denial != nil && errors.Is(best.denial, ErrReplay):
		d := Decision{Denial: best.denial, Serial: bestFob.Token.Serial, Method: "fob", Possession: best.possession}
		return d, auditReplay(tx, "user "+u.Name, d)
	case best.denial != nil:
		return Decision{Denial: best.denial, Method: "fob"}, nil
	case len(candidates) == 0 && len(refused) > 0:
		return v.policy.refuseFob(refused[0], tx.Now()), nil
	case len(candidates) == 0:
		why := ""
		if len(retired) > 0 {
			why = " (" + v.policy.refuseFob(retired[0], tx.Now()).Denial.Error() + ")"
		}
		return deny(ErrNoFactor, "user %s has no assigned fob%s; issue a bypass code or assign a fob", u.Name, why), nil
	}
	return deny(ErrMalformed, "what was typed (%d characters) is not a code any fob of user %s shows, nor a %d-digit bypass code",
		len(code), u.Name, BypassDigits), nil
}

// bypassCode spends one use of the user's bypass code, or says why not:
// a code that was real once says how it ended.
func (v *Verifier) bypassCode(tx *inventory.Tx, u *inventory.User, code string) (Decision, error) {
	c, found, err := tx.FindBypassCode(u.ID, code)
	if err != nil {
		return Decision{}, err
	}
	if !found {
		return deny(ErrWrongCode, "not a bypass code of user %s", u.Name), nil
	}
	d := Decision{Method: "bypass", BypassID: c.ID}
	switch c.State(tx.Now()) {
	case inventory.BypassLive:
		left, spent, err := tx.SpendBypassCode(c.ID)
		if err != nil || spent {
			d.Allow, d.UsesLeft = spent, left
			return d, err
		}
		d.Denial = fmt.Errorf("%w: bypass code #%d of user %s has no use left", ErrBypassUsedUp, c.ID, u.Name)
	case inventory.BypassUsedUp:
		d.Denial = fmt.Errorf("%w: bypass code #%d of user %s was used up at %s", ErrBypassUsedUp, c.ID, u.Name, clock(c.LastUsedAt))
		d.Possession = !c.LastUsedAt.IsZero() && tx.Now().Sub(c.LastUsedAt) <= v.policy.ReplayGrace
	case inventory.BypassExpired:
		d.Denial = fmt.Errorf("%w: bypass code #%d of user %s expired at %s", ErrBypassExpired, c.ID, u.Name, clock(c.ExpiresAt))
	case inventory.BypassRevoked:
		d.Denial = fmt.Errorf("%w: bypass code #%d of user %s was revoked at %s", ErrBypassRevoked, c.ID, u.Name, clock(c.RevokedAt))
	}
	return d, nil
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
			if err := tx.Audit("keydesk", "bypass code used", "user "+u.Name, plural(d.UsesLeft, "use", "uses")+" left"); err != nil {
				return err
			}
		}
		if u.FailCount == 0 {
			return nil
		}
		return tx.ResetUserFailures(u.ID)
	}
	if !counts(*d) {
		return nil
	}
	n, lockedNow, err := tx.RecordUserFailure(u.ID, v.policy.LockoutAfter)
	if err != nil || !lockedNow {
		return err
	}
	d.LockedNow = true
	ends := v.policy.lockEnds(tx.Now())
	d.Denial = fmt.Errorf("%w; user %s is now locked after %d failed passcodes (%s)", d.Denial, u.Name, n, ends)
	return tx.Audit("keydesk", "user locked", "user "+u.Name, fmt.Sprintf("%d consecutive failed passcodes; %s", n, ends))
}

// counts reports whether a denial is a failed guess, which the lockout
// counts, rather than a refusal made before any code was compared, or a
// replay that proves the factor is at hand.
func counts(d Decision) bool {
	if d.Possession {
		return false
	}
	for _, err := range []error{ErrWrongCode, ErrReplay, ErrMalformed, ErrBypassExpired, ErrBypassUsedUp, ErrBypassRevoked} {
		if errors.Is(d.Denial, err) {
			return true
		}
	}
	return false
}

// plural is "1 use" or "3 uses".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// denialPace keeps a denial for a name that is no user from answering
// sooner than one for a user: it learns how long the users' denials take
// (an average that follows the load) and holds an unknown name's answer
// until then, so that the clock does not tell an application who has an
// account.
type denialPace struct {
	mu  sync.Mutex
	avg time.Duration
}

func (p *denialPace) pace(start time.Time, d Decision) {
	took := time.Since(start)
	switch {
	case d.Allow || d.Denial == nil:
		return
	case errors.Is(d.Denial, ErrUnknownUser):
		p.mu.Lock()
		wait := p.avg - took
		p.mu.Unlock()
		holdUntil(start.Add(took + wait))
	default:
		p.mu.Lock()
		if p.avg == 0 {
			p.avg = took
		} else {
			p.avg += (took - p.avg) / 16
		}
		p.mu.Unlock()
	}
}

// holdUntil returns at deadline, not after: a sleep on Linux wakes on a
// millisecond tick, which would make the unknown name slower by as much
// as it was faster, so the last millisecond is waited out on the CPU.
func holdUntil(deadline time.Time) {
	if d := time.Until(deadline) - time.Millisecond; d > 0 {
		time.Sleep(d)
	}
	for time.Now().Before(deadline) {
		runtime.Gosched()
	}
}
