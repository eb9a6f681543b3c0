package verify

import (
	"fmt"
	"time"

	"github.com/keydesk/keydesk/inventory"
)

// Locked reports whether a lock set at lockedAt (zero: none) still holds
// at now: until an admin unlocks, or for LockoutCooldown when it is set.
func (p Policy) Locked(lockedAt, now time.Time) bool {
	if lockedAt.IsZero() {
		return false
	}
	return p.LockoutCooldown <= 0 || now.Before(lockedAt.Add(p.LockoutCooldown))
}

// LockEnd is when a lock set at lockedAt ends by itself: the zero time
// when only an admin unlocks.
func (p Policy) LockEnd(lockedAt time.Time) time.Time {
	if p.LockoutCooldown <= 0 || lockedAt.IsZero() {
		return time.Time{}
	}
	return lockedAt.Add(p.LockoutCooldown)
}

// lockEnds says how a lock set at lockedAt ends, for a clerk.
func (p Policy) lockEnds(lockedAt time.Time) string {
	if p.LockoutCooldown <= 0 {
		return "only an admin can unlock it"
	}
	return fmt.Sprintf("it ends by itself at %s, or an admin can unlock it sooner", clock(lockedAt.Add(p.LockoutCooldown)))
}

// lockOver reports a lock that was set and has ended by itself.
func (p Policy) lockOver(lockedAt, now time.Time) bool {
	return !lockedAt.IsZero() && !p.Locked(lockedAt, now)
}

// endFobLock clears a fob's lock whose cool-down is over, in the decision's
// own transaction, and says so in the audit log.
func (v *Verifier) endFobLock(tx *inventory.Tx, f *inventory.Fob) error {
	if !v.policy.lockOver(f.LockedAt, tx.Now()) {
		return nil
	}
	if err := tx.UnlockFob(f.ID); err != nil {
		return err
	}
	detail := fmt.Sprintf("the %s cool-down after %d failures (locked at %s) is over", v.policy.LockoutCooldown, f.FailCount, clock(f.LockedAt))
	f.LockedAt, f.FailCount = time.Time{}, 0
	return tx.Audit("keydesk", "fob lock ended", "fob "+f.Token.Serial, detail)
}

// endUserLock is endFobLock for a user.
func (v *Verifier) endUserLock(tx *inventory.Tx, u *inventory.User) error {
	if !v.policy.lockOver(u.LockedAt, tx.Now()) {
		return nil
	}
	if err := tx.ResetUserFailures(u.ID); err != nil {
		return err
	}
	detail := fmt.Sprintf("the %s cool-down after %d failed passcodes (locked at %s) is over", v.policy.LockoutCooldown, u.FailCount, clock(u.LockedAt))
	u.LockedAt, u.FailCount = time.Time{}, 0
	return tx.Audit("keydesk", "user lock ended", "user "+u.Name, detail)
}
