package verify_test

import (
	"testing"
	"time"

	"github.com/keydesk/keydesk/verify"
)

func TestLostAndRevokedFobsRefused(t *testing.T) {
	e := newEnv(t)
	lost, revoked := hotp("LR-LOST"), hotp("LR-REV")
	e.add(t, "ada", lost)
	e.add(t, "", revoked)
	e.clock.Set(time.Date(2025, 4, 2, 15, 0, 0, 0, time.UTC))
	if err := e.desk.ReportLost(t.Context(), "LR-LOST"); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(time.Date(2025, 5, 20, 8, 0, 0, 0, time.UTC))
	if err := e.desk.Revoke(t.Context(), "LR-REV"); err != nil {
		t.Fatal(err)
	}
	wantDeny(t, "lost fob", e.serial(t, "LR-LOST", lost.Code(0)), verify.ErrLost, "LR-LOST", "lost", "2025-04-02")
	wantDeny(t, "revoked fob", e.serial(t, "LR-REV", revoked.Code(0)), verify.ErrRevoked, "LR-REV", "revoked", "2025-05-20")
	// A refusal is not a guess: it neither counts nor moves the counter.
	for _, s := range []string{"LR-LOST", "LR-REV"} {
		if f := e.fob(t, s); f.FailCount != 0 || f.Token.Counter != 0 {
			t.Errorf("%s: count %d, counter %d after a refusal", s, f.FailCount, f.Token.Counter)
		}
	}
	// The lost fob stays on the user's record.
	if f := e.fob(t, "LR-LOST"); f.User != "ada" {
		t.Errorf("lost fob's holder %q, want ada", f.User)
	}
}

func TestUnknownAndDisabled(t *testing.T) {
	e := newEnv(t)
	a := hotp("UD-1")
	e.add(t, "carol", a)
	wantDeny(t, "unknown serial", e.serial(t, "NOPE-1", "123456"), verify.ErrUnknownFob, `"NOPE-1"`)
	wantDeny(t, "unknown user", e.passcode(t, "nobody", "123456"), verify.ErrUnknownUser, `"nobody"`)
	if err := e.desk.SetUserDisabled(t.Context(), "carol", true); err != nil {
		t.Fatal(err)
	}
	d := e.passcode(t, "carol", a.Code(0))
	wantDeny(t, "disabled user", d, verify.ErrUserDisabled, "carol", "disabled")
	if u := e.user(t, "carol"); u.FailCount != 0 {
		t.Errorf("a disabled user's attempt counted: %d", u.FailCount)
	}
	if err := e.desk.SetUserDisabled(t.Context(), "carol", false); err != nil {
		t.Fatal(err)
	}
	wantAllow(t, "enabled again", e.passcode(t, "carol", a.Code(0)))
}

// TestAnyFobOfUser: a user's passcode is right if any assigned fob shows
// it; the decision names that fob.
func TestAnyFobOfUser(t *testing.T) {
	e := newEnv(t)
	h, tt, y := hotp("ANY-H"), totp("ANY-T"), yubico("ANY-Y")
	h8 := hotp("ANY-H8")
	h8.Digits = 8
	e.add(t, "dan", h, tt, y, h8)
	for _, c := range []struct{ serial, code string }{
		{"ANY-T", tt.Code(step)},
		{"ANY-H", h.Code(3)},
		{"ANY-Y", otp(t, y, 1, 0)},
		{"ANY-H8", h8.Code(0)},
	} {
		d := e.passcode(t, "dan", c.code)
		wantAllow(t, c.serial, d)
		if d.Serial != c.serial || d.Method != "fob" || d.Reason() != "code accepted from fob "+c.serial {
			t.Errorf("%s: decision %+v, reason %q", c.serial, d, d.Reason())
		}
	}
	wantDeny(t, "HOTP replay through the user", e.passcode(t, "dan", h.Code(3)), verify.ErrReplay)
	wantDeny(t, "code of no fob's shape", e.passcode(t, "dan", "12345"), verify.ErrMalformed, "dan", "9-digit bypass code")
	other := hotp("ELSE")
	wantDeny(t, "code of another user's fob", e.passcode(t, "dan", other.Code(0)), verify.ErrWrongCode)
}

// TestLostFobOfUserNeverAnswers: a lost fob stays linked to its holder
// but its codes are not right for the user.
func TestLostFobOfUserNeverAnswers(t *testing.T) {
	e := newEnv(t)
	kept, lost := hotp("KEPT"), hotp("GONE")
	e.add(t, "erin", kept, lost)
	if err := e.desk.ReportLost(t.Context(), "GONE"); err != nil {
		t.Fatal(err)
	}
	if d := e.passcode(t, "erin", lost.Code(0)); d.Allow {
		t.Error("the lost fob's code was accepted for its holder")
	}
	if f := e.fob(t, "GONE"); f.Token.Counter != 0 {
		t.Errorf("the lost fob's counter moved to %d", f.Token.Counter)
	}
	wantAllow(t, "the kept fob", e.passcode(t, "erin", kept.Code(0)))

	if err := e.desk.ReportLost(t.Context(), "KEPT"); err != nil {
		t.Fatal(err)
	}
	// A right code from a lost fob says so, and is an audit entry:
	// someone has the fob. A wrong one says the user has nothing to use.
	wantDeny(t, "a right code of a lost fob", e.passcode(t, "erin", kept.Code(1)), verify.ErrLost, "KEPT", "reported lost")
	if got := e.auditActions(t); got[len(got)-1] != "code from lost fob fob KEPT" {
		t.Errorf("audit log ends %v", got)
	}
	wantDeny(t, "all fobs lost", e.passcode(t, "erin", wrong), verify.ErrNoFactor, "erin", "bypass code", "assign a fob")
}

func TestUserWithOnlyALockedFob(t *testing.T) {
	p := verify.DefaultPolicy
	p.LockoutAfter = 2
	e := newEnvPolicy(t, p)
	a := hotp("ONLY")
	e.add(t, "fay", a)
	e.serial(t, "ONLY", wrong)
	e.serial(t, "ONLY", wrong)
	wantDeny(t, "user whose only fob is locked", e.passcode(t, "fay", a.Code(0)), verify.ErrFobLocked, "ONLY", "unlock")
	if u := e.user(t, "fay"); u.FailCount != 0 {
		t.Errorf("a refusal counted against the user: %d", u.FailCount)
	}
}

// TestReasonCodes: each denial has a stable word for scripts and metrics.
func TestReasonCodes(t *testing.T) {
	e := newEnv(t)
	a := hotp("RC-1")
	e.add(t, "", a)
	for code, d := range map[string]verify.Decision{
		"unknown_fob":  e.serial(t, "RC-NONE", "123456"),
		"malformed":    e.serial(t, "RC-1", "12"),
		"unknown_user": e.passcode(t, "ghost", "123456"),
	} {
		if d.ReasonCode() != code {
			t.Errorf("reason code %q, want %q (%v)", d.ReasonCode(), code, d.Denial)
		}
	}
	wantAllow(t, "RC-1", e.serial(t, "RC-1", a.Code(0)))
	if d := e.serial(t, "RC-1", a.Code(0)); d.ReasonCode() != "replay" {
		t.Errorf("replay: reason code %q", d.ReasonCode())
	}
	if d := e.serial(t, "RC-1", wrong); d.ReasonCode() != "wrong_code" {
		t.Errorf("wrong code: reason code %q", d.ReasonCode())
	}
}

// A fob is used only within the dates its seed file gives (PSKC
// StartDate and ExpiryDate).
func TestFobDates(t *testing.T) {
	e := newEnv(t)
	early, late := hotp("D-EARLY"), hotp("D-LATE")
	early.NotBefore = start.Add(time.Hour)
	late.NotAfter = start.Add(time.Hour)
	e.add(t, "dora", early, late)
	wantDeny(t, "before its start date", e.serial(t, "D-EARLY", early.Code(0)), verify.ErrFobExpired, "may be used from")
	wantAllow(t, "within its dates", e.serial(t, "D-LATE", late.Code(0)))
	e.clock.Advance(2 * time.Hour)
	wantDeny(t, "after its expiry date", e.serial(t, "D-LATE", late.Code(1)), verify.ErrFobExpired, "expired at")
	wantAllow(t, "once its start date came", e.serial(t, "D-EARLY", early.Code(0)))
	if f := e.fob(t, "D-LATE"); f.Token.NotAfter.IsZero() || !f.Token.NotAfter.Equal(start.Add(time.Hour)) {
		t.Errorf("stored expiry %v", f.Token.NotAfter)
	}
}
