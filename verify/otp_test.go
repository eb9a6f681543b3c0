package verify_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/verify"
)

func TestHOTPWindow(t *testing.T) {
	e := newEnv(t)
	a, b := hotp("H-A"), hotp("H-B")
	e.add(t, "", a, b)

	// RFC 4226 §7.4 look-ahead: counter+9 is the last of 10 codes tried.
	wantAllow(t, "code at counter+9", e.serial(t, "H-A", a.Code(9)))
	if f := e.fob(t, "H-A"); f.Token.Counter != 10 {
		t.Errorf("counter after accepting counter 9 is %d, want 10", f.Token.Counter)
	}
	d := e.serial(t, "H-B", b.Code(10))
	wantDeny(t, "code at counter+10", d, verify.ErrWrongCode, "H-B", "resync")
	if f := e.fob(t, "H-B"); f.Token.Counter != 0 || f.FailCount != 1 {
		t.Errorf("after a wrong code: counter %d, failures %d; want 0, 1", f.Token.Counter, f.FailCount)
	}

	// The counter moved past the used code: it and the ones skipped are
	// spent, the next one works.
	wantDeny(t, "the code just used", e.serial(t, "H-A", a.Code(9)), verify.ErrReplay, "before")
	wantDeny(t, "a code skipped over", e.serial(t, "H-A", a.Code(4)), verify.ErrReplay, "before")
	wantAllow(t, "the next code", e.serial(t, "H-A", a.Code(10)))
	if f := e.fob(t, "H-A"); f.FailCount != 0 {
		t.Errorf("a success left %d failures", f.FailCount)
	}
}

func TestHOTPWindowIsAPolicy(t *testing.T) {
	p := verify.DefaultPolicy
	p.HOTPWindow = 3
	e := newEnvPolicy(t, p)
	a := hotp("H-W")
	e.add(t, "", a)
	wantDeny(t, "counter+3 with a window of 3", e.serial(t, "H-W", a.Code(3)), verify.ErrWrongCode, "within 3 presses")
	wantAllow(t, "counter+2 with a window of 3", e.serial(t, "H-W", a.Code(2)))
}

// TestHOTPCounterEnd sets the counter next to the end of 64 bits with a
// direct UPDATE: the last codes work, then the fob is exhausted, and no
// code of a wrapped counter (0, 1, ...) is ever accepted.
func TestHOTPCounterEnd(t *testing.T) {
	e := newEnv(t)
	a, b := hotp("H-END"), hotp("H-WRAP")
	e.add(t, "", a, b)
	raw := e.raw(t)
	// The counter is stored as its int64 bits, on either database.
	setCounter := func(serial string, c uint64) {
		raw.Exec(t, `UPDATE fobs SET counter = ? WHERE serial = ?`, int64(c), serial)
	}
	setCounter("H-END", math.MaxUint64-2)
	wantAllow(t, "counter MaxUint64-2", e.serial(t, "H-END", a.Code(math.MaxUint64-2)))
	wantAllow(t, "counter MaxUint64-1", e.serial(t, "H-END", a.Code(math.MaxUint64-1)))
	if f := e.fob(t, "H-END"); f.Token.Counter != math.MaxUint64 {
		t.Fatalf("counter %d, want MaxUint64", f.Token.Counter)
	}
	for _, c := range []uint64{math.MaxUint64, 0, 1, 2, 9} {
		d := e.serial(t, "H-END", a.Code(c))
		wantDeny(t, fmt.Sprintf("exhausted fob, code at %d", c), d, verify.ErrExhausted, "every counter value")
	}
	wantDeny(t, "replay at the end", e.serial(t, "H-END", a.Code(math.MaxUint64-1)), verify.ErrExhausted)

	// Within the window of a counter 5 from the end, codes of counters
	// 0..3 (the wrap) are not looked at.
	setCounter("H-WRAP", math.MaxUint64-5)
	for c := uint64(0); c < 4; c++ {
		d := e.serial(t, "H-WRAP", b.Code(c))
		if d.Allow {
			t.Errorf("wrapped counter %d accepted", c)
		}
	}
	wantAllow(t, "counter MaxUint64-3", e.serial(t, "H-WRAP", b.Code(math.MaxUint64-3)))
}

func TestHOTPMalformed(t *testing.T) {
	e := newEnv(t)
	a := hotp("H-M")
	e.add(t, "", a)
	for _, code := range []string{"", "12345", "1234567", "12a456", "１２３４５６", "123_456", "123 45"} {
		wantDeny(t, fmt.Sprintf("code %q", code), e.serial(t, "H-M", code), verify.ErrMalformed, "6 digits")
	}
	// Blanks around a right code are what a clerk's paste adds; a space or
	// a dash inside it, how people read a code off a fob or a phone.
	wantAllow(t, "code with blanks", e.serial(t, "H-M", " "+a.Code(0)+"\n"))
	c := a.Code(1)
	wantAllow(t, "code with a space", e.serial(t, "H-M", c[:3]+" "+c[3:]))
	c = a.Code(2)
	wantAllow(t, "code with a dash", e.serial(t, "H-M", c[:3]+"-"+c[3:]))
}

// step is the RFC 6238 step of the fake clock's start for a 30 s fob.
var step = uint64(start.Unix() / 30)

func TestTOTPSkew(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		delta int64
		allow bool
	}{{0, true}, {-1, true}, {1, true}, {-2, false}, {2, false}} {
		serial := fmt.Sprintf("T-SKEW%+d", c.delta)
		tok := totp(serial)
		e.add(t, "", tok)
		d := e.serial(t, serial, tok.Code(uint64(int64(step)+c.delta)))
		if c.allow {
			wantAllow(t, serial, d)
			if d.Drift != int(c.delta) {
				t.Errorf("%s: drift %d, want %d", serial, d.Drift, c.delta)
			}
		} else {
			wantDeny(t, serial, d, verify.ErrWrongCode, serial, "clock", "resync")
		}
	}
}

// TestTOTPDriftLearned: a fob one step fast is accepted and its drift
// kept, so the next code is accepted when it is two steps fast, which a
// fob without learned drift is not.
func TestTOTPDriftLearned(t *testing.T) {
	e := newEnv(t)
	fast, fresh := totp("T-FAST"), totp("T-FRESH")
	e.add(t, "", fast, fresh)
	d := e.serial(t, "T-FAST", fast.Code(step+1))
	wantAllow(t, "one step fast", d)
	if d.Drift != 1 || e.fob(t, "T-FAST").Token.Drift != 1 {
		t.Errorf("drift %d, stored %d; want 1", d.Drift, e.fob(t, "T-FAST").Token.Drift)
	}
	e.clock.Advance(30 * time.Second)
	d = e.serial(t, "T-FAST", fast.Code(step+3))
	wantAllow(t, "two steps fast after learning one", d)
	if d.Drift != 2 {
		t.Errorf("drift %d, want 2", d.Drift)
	}
	wantDeny(t, "two steps fast, nothing learned", e.serial(t, "T-FRESH", fresh.Code(step+3)), verify.ErrWrongCode)
}

// TestTOTPStepUsedOnce: RFC 6238 §5.2: a step accepted is never accepted
// again, nor any step before it.
func TestTOTPStepUsedOnce(t *testing.T) {
	e := newEnv(t)
	tok := totp("T-ONCE")
	e.add(t, "", tok)
	wantAllow(t, "code of the current step", e.serial(t, "T-ONCE", tok.Code(step)))
	wantDeny(t, "same code again", e.serial(t, "T-ONCE", tok.Code(step)), verify.ErrReplay, "before", "time step")
	wantDeny(t, "code of the step before", e.serial(t, "T-ONCE", tok.Code(step-1)), verify.ErrReplay)
	e.clock.Advance(30 * time.Second)
	wantDeny(t, "old code a step later", e.serial(t, "T-ONCE", tok.Code(step)), verify.ErrReplay)
	wantAllow(t, "next step's code", e.serial(t, "T-ONCE", tok.Code(step+1)))
	if f := e.fob(t, "T-ONCE"); !f.HasLast || f.LastStep != int64(step+1) {
		t.Errorf("last step %d (%v), want %d", f.LastStep, f.HasLast, step+1)
	}
}

// TestTOTPBeforeT0: a clock before the fob's T0 has negative steps, which
// have no codes: every code is refused, and nothing breaks.
func TestTOTPBeforeT0(t *testing.T) {
	e := newEnv(t)
	tok := totp("T-EARLY")
	tok.T0 = start.Unix() + 3600
	e.add(t, "", tok)
	for _, c := range []uint64{0, 1, math.MaxUint64} {
		wantDeny(t, fmt.Sprintf("code of step %d before T0", c), e.serial(t, "T-EARLY", tok.Code(c)), verify.ErrWrongCode)
	}
	// Just after T0, step -1 is skipped and step 0 works.
	e.clock.Set(time.Unix(tok.T0, 0))
	wantAllow(t, "step 0 at T0", e.serial(t, "T-EARLY", tok.Code(0)))
	wantAllow(t, "step 1 at T0 (one fast)", e.serial(t, "T-EARLY", tok.Code(1)))
}

func TestTOTPPeriod60(t *testing.T) {
	e := newEnv(t)
	tok := totp("T-60")
	tok.Period, tok.Digits, tok.Algorithm = 60, 8, fob.SHA256
	e.add(t, "", tok)
	s := uint64(start.Unix() / 60)
	wantAllow(t, "60 s step", e.serial(t, "T-60", tok.Code(s)))
	e.clock.Advance(150 * time.Second) // 09:26:35 to 09:29:05: step s+3
	wantDeny(t, "60 s step, two steps fast", e.serial(t, "T-60", tok.Code(s+5)), verify.ErrWrongCode, "60 s")
	wantAllow(t, "60 s step, one step slow", e.serial(t, "T-60", tok.Code(s+2)))
}

func TestYubico(t *testing.T) {
	e := newEnv(t)
	tok := yubico("Y-1")
	e.add(t, "", tok)
	first := otp(t, tok, 3, 0)
	wantAllow(t, "first OTP", e.serial(t, "Y-1", first))
	wantDeny(t, "the same OTP", e.serial(t, "Y-1", first), verify.ErrReplay, "before", "3.0")
	wantDeny(t, "an older power-up", e.serial(t, "Y-1", otp(t, tok, 2, 9)), verify.ErrReplay)
	wantAllow(t, "next in the session", e.serial(t, "Y-1", otp(t, tok, 3, 1)))
	wantDeny(t, "earlier in the session", e.serial(t, "Y-1", otp(t, tok, 3, 0)), verify.ErrReplay)
	wantAllow(t, "next power-up", e.serial(t, "Y-1", otp(t, tok, 4, 0)))
	if f := e.fob(t, "Y-1"); f.Token.Counter != 4<<8 {
		t.Errorf("stored counter %#x, want 0x400", f.Token.Counter)
	}

	// Caps Lock sets the counter's top bit, which is not part of the
	// count, and types the modhex in capitals.
	capsTok := fob.YubicoFields{PrivateID: [6]byte(tok.PrivateID), UseCounter: 5, CapsLock: true}
	caps, err := fob.SealYubicoOTP(tok.Secret, tok.PublicID, capsTok)
	if err != nil {
		t.Fatal(err)
	}
	wantAllow(t, "OTP typed with Caps Lock", e.serial(t, "Y-1", strings.ToUpper(caps)))
	if f := e.fob(t, "Y-1"); f.Token.Counter != 5<<8 {
		t.Errorf("stored counter after Caps Lock %#x, want 0x500", f.Token.Counter)
	}
	wantDeny(t, "counter 4 after caps counter 5", e.serial(t, "Y-1", otp(t, tok, 4, 9)), verify.ErrReplay)

	other := yubico("Y-OTHER")
	wrongPriv := tok
	wrongPriv.PrivateID = other.PrivateID
	wantDeny(t, "wrong private id", e.serial(t, "Y-1", otp(t, wrongPriv, 9, 0)), verify.ErrWrongCode, "private id", "Y-1")
	wrongKey := tok
	wrongKey.Secret = other.Secret
	wantDeny(t, "wrong AES key", e.serial(t, "Y-1", otp(t, wrongKey, 9, 0)), verify.ErrWrongCode, "decrypt", "Y-1")
	wrongPub := tok
	wrongPub.PublicID = other.PublicID
	wantDeny(t, "another fob's public id", e.serial(t, "Y-1", otp(t, wrongPub, 9, 0)), verify.ErrWrongCode, other.PublicID)
	for _, bad := range []string{"123456", tok.PublicID + strings.Repeat("c", 31), tok.PublicID + strings.Repeat("x", 32)} {
		wantDeny(t, fmt.Sprintf("malformed %q", bad), e.serial(t, "Y-1", bad), verify.ErrMalformed, "Yubico")
	}
	wantAllow(t, "still works after failures", e.serial(t, "Y-1", otp(t, tok, 9, 0)))
}

// TestYubicoWithoutPublicID: a fob imported without its public id
// accepts its OTPs whatever prefix they carry.
func TestYubicoWithoutPublicID(t *testing.T) {
	e := newEnv(t)
	tok := yubico("Y-NOPUB")
	stored := tok
	stored.PublicID = ""
	e.add(t, "", stored)
	wantAllow(t, "OTP with a public id", e.serial(t, "Y-NOPUB", otp(t, tok, 1, 0)))
	tok.PublicID = ""
	wantAllow(t, "OTP without a public id", e.serial(t, "Y-NOPUB", otp(t, tok, 1, 1)))
}
