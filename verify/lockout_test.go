package verify_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keydesk/keydesk/verify"
)

// wrong is a well-formed code that is not right for the fob at any
// counter the tests reach.
const wrong = "000000"

func TestFobLockout(t *testing.T) {
	e := newEnv(t)
	a := hotp("L-1")
	if a.Code(0) == wrong || a.Code(1) == wrong {
		t.Fatal("pick another serial: its code is the wrong one")
	}
	e.add(t, "", a)
	for i := 1; i <= 9; i++ {
		d := e.serial(t, "L-1", wrong)
		wantDeny(t, fmt.Sprintf("failure %d", i), d, verify.ErrWrongCode)
		if f := e.fob(t, "L-1"); f.Locked() || f.FailCount != i {
			t.Fatalf("after %d failures: locked %v, count %d", i, f.Locked(), f.FailCount)
		}
	}
	d := e.serial(t, "L-1", wrong)
	wantDeny(t, "10th failure", d, verify.ErrWrongCode, "now locked", "10 failures", "L-1")
	if f := e.fob(t, "L-1"); !f.Locked() || !f.LockedAt.Equal(start) {
		t.Errorf("after 10 failures: locked at %v", f.LockedAt)
	}
	if log := e.auditActions(t); !slices.Contains(log, "fob locked fob L-1") {
		t.Errorf("no audit entry for the lock: %q", log)
	}

	d = e.serial(t, "L-1", a.Code(0))
	wantDeny(t, "right code on a locked fob", d, verify.ErrFobLocked, "locked", "keydesk fob unlock L-1")
	if f := e.fob(t, "L-1"); f.FailCount != 10 || f.Token.Counter != 0 {
		t.Errorf("a locked fob's attempt changed it: count %d, counter %d", f.FailCount, f.Token.Counter)
	}

	if err := e.desk.UnlockFob(t.Context(), "L-1"); err != nil {
		t.Fatal(err)
	}
	wantAllow(t, "right code after unlock", e.serial(t, "L-1", a.Code(0)))
}

func TestFobLockoutResetBySuccess(t *testing.T) {
	e := newEnv(t)
	a := hotp("L-2")
	e.add(t, "", a)
	for range 9 {
		e.serial(t, "L-2", wrong)
	}
	wantAllow(t, "success after 9 failures", e.serial(t, "L-2", a.Code(0)))
	if f := e.fob(t, "L-2"); f.FailCount != 0 {
		t.Errorf("count %d after a success", f.FailCount)
	}
	for i := range 9 {
		wantDeny(t, fmt.Sprintf("failure %d after the reset", i+1), e.serial(t, "L-2", wrong), verify.ErrWrongCode)
	}
	if f := e.fob(t, "L-2"); f.Locked() {
		t.Error("locked after 9 failures following a success")
	}
	wantDeny(t, "10th failure after the reset", e.serial(t, "L-2", wrong), verify.ErrWrongCode, "now locked")
}

// TestLockoutCountsOnlyGuesses: old replays and malformed codes count as
// failures; a replay of the code accepted moments ago, and refusals made
// before any comparison, do not.
func TestLockoutCountsOnlyGuesses(t *testing.T) {
	p := verify.DefaultPolicy
	p.LockoutAfter = 3
	e := newEnvPolicy(t, p)
	a := hotp("L-3")
	e.add(t, "", a)
	wantAllow(t, "first", e.serial(t, "L-3", a.Code(0)))
	d := e.serial(t, "L-3", a.Code(0)) // the same code, moments later
	wantDeny(t, "a double submit", d, verify.ErrReplay)
	if !d.Possession || e.fob(t, "L-3").FailCount != 0 {
		t.Errorf("a replay of the code just accepted counted as a failure: %+v", d)
	}
	e.clock.Advance(p.ReplayGrace + time.Second)
	e.serial(t, "L-3", a.Code(0)) // replay, later: a guess with a seen code
	e.serial(t, "L-3", "12")      // malformed
	d = e.serial(t, "L-3", wrong)
	wantDeny(t, "third failure with a limit of 3", d, verify.ErrWrongCode, "now locked after 3 failures")
}

// The lock ends by itself after the cool-down, and says so in the audit
// log; with no cool-down only an admin unlocks.
func TestLockoutCooldown(t *testing.T) {
	p := verify.DefaultPolicy
	p.LockoutAfter = 2
	e := newEnvPolicy(t, p)
	a := hotp("CD-1")
	e.add(t, "cody", a)
	e.passcode(t, "cody", wrong)
	d := e.passcode(t, "cody", wrong)
	wantDeny(t, "second failure", d, verify.ErrWrongCode, "now locked", "ends by itself at")
	e.clock.Advance(p.LockoutCooldown - time.Second)
	wantDeny(t, "a right code just before the cool-down ends", e.passcode(t, "cody", a.Code(0)), verify.ErrUserLocked, "ends by itself")
	e.clock.Advance(time.Second)
	wantAllow(t, "a right code once the cool-down is over", e.passcode(t, "cody", a.Code(0)))
	if got := e.auditActions(t); got[len(got)-1] != "user lock ended user cody" {
		t.Errorf("audit log ends %v, want the lock's end", got)
	}

	p.LockoutCooldown = 0
	e = newEnvPolicy(t, p)
	e.add(t, "dana", a)
	e.passcode(t, "dana", wrong)
	e.passcode(t, "dana", wrong)
	e.clock.Advance(365 * 24 * time.Hour)
	wantDeny(t, "a year later, with no cool-down", e.passcode(t, "dana", a.Code(0)), verify.ErrUserLocked, "only an admin")
}

func TestUserLockout(t *testing.T) {
	e := newEnv(t)
	a := hotp("UL-1")
	e.add(t, "ada", a)
	for i := 1; i <= 9; i++ {
		d := e.passcode(t, "ada", wrong)
		wantDeny(t, fmt.Sprintf("failure %d", i), d, verify.ErrWrongCode)
		if u := e.user(t, "ada"); u.Locked() || u.FailCount != i {
			t.Fatalf("after %d failures: locked %v, count %d", i, u.Locked(), u.FailCount)
		}
	}
	d := e.passcode(t, "ada", wrong)
	wantDeny(t, "10th failure", d, verify.ErrWrongCode, "user ada is now locked", "10 failed passcodes")
	if u := e.user(t, "ada"); !u.Locked() {
		t.Error("user not locked after 10 failures")
	}
	if log := e.auditActions(t); !slices.Contains(log, "user locked user ada") {
		t.Errorf("no audit entry for the lock: %q", log)
	}
	// The user's failures are the user's: the fob itself is not locked.
	if f := e.fob(t, "UL-1"); f.Locked() || f.FailCount != 0 {
		t.Errorf("the fob took the user's failures: locked %v, count %d", f.Locked(), f.FailCount)
	}

	d = e.passcode(t, "ada", a.Code(0))
	wantDeny(t, "right code for a locked user", d, verify.ErrUserLocked, "ada", "unlock")
	if err := e.desk.UnlockUser(t.Context(), "ada"); err != nil {
		t.Fatal(err)
	}
	wantAllow(t, "right code after unlock", e.passcode(t, "ada", a.Code(0)))
	if u := e.user(t, "ada"); u.Locked() || u.FailCount != 0 {
		t.Errorf("after unlock and success: locked %v, count %d", u.Locked(), u.FailCount)
	}
}

func TestUserLockoutResetBySuccess(t *testing.T) {
	e := newEnv(t)
	a := hotp("UL-2")
	e.add(t, "bob", a)
	for range 9 {
		e.passcode(t, "bob", wrong)
	}
	wantAllow(t, "success after 9 failures", e.passcode(t, "bob", a.Code(0)))
	if u := e.user(t, "bob"); u.FailCount != 0 {
		t.Errorf("count %d after a success", u.FailCount)
	}
	for range 9 {
		e.passcode(t, "bob", wrong)
	}
	if u := e.user(t, "bob"); u.Locked() {
		t.Error("locked after 9 failures following a success")
	}
}
