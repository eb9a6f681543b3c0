package verify_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/verify"
)

func resync(t *testing.T, e *env, serial, c1, c2 string) (desk.Resynced, error) {
	t.Helper()
	return e.desk.Resync(t.Context(), serial, c1, c2)
}

func TestResyncHOTP(t *testing.T) {
	e := newEnv(t)
	a := hotp("RS-H")
	e.add(t, "", a)
	if _, err := resync(t, e, "RS-H", a.Code(500), a.Code(502)); !errors.Is(err, verify.ErrResync) {
		t.Errorf("codes 500 and 502: %v, want ErrResync", err)
	}
	if _, err := resync(t, e, "RS-H", a.Code(501), a.Code(500)); !errors.Is(err, verify.ErrResync) {
		t.Errorf("codes 501 and 500: %v, want ErrResync", err)
	}
	d, err := resync(t, e, "RS-H", a.Code(500), a.Code(501))
	if err != nil || d.Serial != "RS-H" {
		t.Fatalf("codes 500 and 501: %+v, %v", d, err)
	}
	if f := e.fob(t, "RS-H"); f.Token.Counter != 502 {
		t.Errorf("counter %d after resync, want 502", f.Token.Counter)
	}
	wantDeny(t, "the second resync code", e.serial(t, "RS-H", a.Code(501)), verify.ErrReplay)
	wantAllow(t, "the code after the resync", e.serial(t, "RS-H", a.Code(502)))
	if log := e.auditActions(t); !slices.Contains(log, "fob resync fob RS-H") {
		t.Errorf("no audit entry: %q", log)
	}

	// Within 1000 presses of the counter (503): 1502 and 1503 are the last
	// pair that is found, 1503 and 1504 the first that is not.
	if _, err := resync(t, e, "RS-H", a.Code(1503), a.Code(1504)); !errors.Is(err, verify.ErrResync) {
		t.Errorf("a pair 1000 presses ahead: %v, want ErrResync", err)
	}
	if _, err := resync(t, e, "RS-H", a.Code(1502), a.Code(1503)); err != nil {
		t.Errorf("a pair 999 presses ahead: %v", err)
	}
	if _, err := resync(t, e, "RS-H", "12", a.Code(1)); !errors.Is(err, verify.ErrMalformed) {
		t.Errorf("malformed code: %v", err)
	}
}

func TestResyncTOTP(t *testing.T) {
	e := newEnv(t)
	tok := totp("RS-T")
	e.add(t, "", tok)
	if _, err := resync(t, e, "RS-T", tok.Code(step+400), tok.Code(step+402)); !errors.Is(err, verify.ErrResync) {
		t.Errorf("non-consecutive steps: %v, want ErrResync", err)
	}
	d, err := resync(t, e, "RS-T", tok.Code(step+400), tok.Code(step+401))
	if err != nil || d.Serial != "RS-T" || d.Drift != 401 {
		t.Fatalf("steps +400 and +401: %+v, %v; want drift 401", d, err)
	}
	wantDeny(t, "the resync's last step", e.serial(t, "RS-T", tok.Code(step+401)), verify.ErrReplay)
	e.clock.Advance(30 * time.Second)
	wantAllow(t, "the fob's code a step later", e.serial(t, "RS-T", tok.Code(step+402)))

	slow := totp("RS-SLOW")
	e.add(t, "", slow)
	now := uint64(e.clock.Now().Unix() / 30)
	if _, err := resync(t, e, "RS-SLOW", slow.Code(now-1001), slow.Code(now-1000)); !errors.Is(err, verify.ErrResync) {
		t.Errorf("a pair 1000 steps slow: %v, want ErrResync", err)
	}
	d, err = resync(t, e, "RS-SLOW", slow.Code(now-1000), slow.Code(now-999))
	if err != nil || d.Drift != -999 {
		t.Errorf("a pair 999 steps slow: %+v, %v", d, err)
	}
}

func TestResyncUnlocksAndRefuses(t *testing.T) {
	p := verify.DefaultPolicy
	p.LockoutAfter = 1
	e := newEnvPolicy(t, p)
	a, lost, y := hotp("RS-L"), hotp("RS-LOST"), yubico("RS-Y")
	e.add(t, "", a, lost, y)
	e.serial(t, "RS-L", wrong)
	if f := e.fob(t, "RS-L"); !f.Locked() {
		t.Fatal("not locked")
	}
	if _, err := resync(t, e, "RS-L", a.Code(20), a.Code(21)); err != nil {
		t.Fatal(err)
	}
	if f := e.fob(t, "RS-L"); f.Locked() || f.FailCount != 0 {
		t.Error("resync left the fob locked")
	}
	if err := e.desk.ReportLost(t.Context(), "RS-LOST"); err != nil {
		t.Fatal(err)
	}
	if _, err := resync(t, e, "RS-LOST", lost.Code(0), lost.Code(1)); !errors.Is(err, verify.ErrLost) {
		t.Errorf("resync of a lost fob: %v, want ErrLost", err)
	}
	if _, err := resync(t, e, "RS-Y", otp(t, y, 1, 0), otp(t, y, 1, 1)); err == nil {
		t.Error("resynced a Yubico fob")
	}
}

// Two codes that follow each other but were used already say so, in
// words a clerk acts on, rather than that they are not consecutive.
func TestResyncWithUsedCodes(t *testing.T) {
	e := newEnv(t)
	a := hotp("RS-OLD")
	e.add(t, "", a)
	for c := range uint64(5) {
		wantAllow(t, "code "+a.Code(c), e.serial(t, "RS-OLD", a.Code(c)))
	}
	for _, c := range []struct {
		c1, c2 uint64
		words  string
	}{
		{1, 2, "both were used already (counters 1 and 2; the fob is at counter 5 or later): press the button twice more"},
		{4, 5, "the first was used already (counters 4 and 5"},
	} {
		_, err := resync(t, e, "RS-OLD", a.Code(c.c1), a.Code(c.c2))
		if !errors.Is(err, verify.ErrResync) || !strings.Contains(err.Error(), "follow each other, but fob RS-OLD showed them before and "+c.words) ||
			strings.Contains(err.Error(), "not consecutive") {
			t.Errorf("used codes %d and %d: %v", c.c1, c.c2, err)
		}
	}
	if _, err := resync(t, e, "RS-OLD", a.Code(1), a.Code(3)); err == nil || !strings.Contains(err.Error(), "not consecutive") {
		t.Errorf("used codes that do not follow each other: %v", err)
	}
	if f := e.fob(t, "RS-OLD"); f.Token.Counter != 5 {
		t.Errorf("counter %d after refused resyncs, want 5", f.Token.Counter)
	}

	tok := totp("RS-OLDT")
	e.add(t, "", tok)
	wantAllow(t, "the TOTP code now", e.serial(t, "RS-OLDT", tok.Code(step)))
	for _, s := range []uint64{step - 1, step} {
		_, err := resync(t, e, "RS-OLDT", tok.Code(s), tok.Code(s+1))
		if !errors.Is(err, verify.ErrResync) || !strings.Contains(err.Error(), "a code from then or later was accepted already, so they cannot be used again: wait until the fob shows a new code") {
			t.Errorf("TOTP codes of steps %+d and %+d: %v", int64(s-step), int64(s+1-step), err)
		}
	}
}
