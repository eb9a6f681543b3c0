package verify

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// match is what checking one code against one fob found: the fob's new
// state on success, or why not and whether it counts as a failure.
type match struct {
	use    inventory.FobUse
	denial error
	counts bool // a failure that counts toward the lockout
	// possession: the code is the one accepted last, moments ago (within
	// ReplayGrace): a double submit, not a guess.
	possession bool
}

// recent reports whether the fob's last success is within the policy's
// replay grace at now.
func (v *Verifier) recent(f *inventory.Fob, now time.Time) bool {
	return !f.LastUsedAt.IsZero() && now.Sub(f.LastUsedAt) <= v.policy.ReplayGrace
}

func failed(err error, format string, args ...any) match {
	return match{denial: fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...)), counts: true}
}

// check decides whether code is right for f at now. It does not write.
func (v *Verifier) check(f *inventory.Fob, code string, now time.Time) match {
	code = fob.NormalizeCode(code)
	switch f.Token.Kind {
	case fob.HOTP:
		return v.checkHOTP(f, code, now)
	case fob.TOTP:
		return v.checkTOTP(f, code, now)
	case fob.Yubico:
		return v.checkYubico(f, code, now)
	}
	return match{denial: fmt.Errorf("fob %s is of unknown kind %q", f.Token.Serial, f.Token.Kind)}
}

func malformed(f *inventory.Fob, code string) (match, bool) {
	if fob.IsDigits(code, f.Token.Digits) {
		return match{}, false
	}
	// The typed text is never repeated back: it goes to logs and RADIUS
	// answers, and a passcode field sometimes receives a password.
	return failed(ErrMalformed, "fob %s shows %d digits; what was typed (%d characters) is not that",
		f.Token.Serial, f.Token.Digits, len(code)), true
}

// checkHOTP looks ahead of the counter (RFC 4226 §7.4) and, for a better
// message, a little behind it.
func (v *Verifier) checkHOTP(f *inventory.Fob, code string, now time.Time) match {
	if m, bad := malformed(f, code); bad {
		return m
	}
	t := &f.Token
	// The counter after the last one accepted must still fit: a fob at
	// the end of its 64-bit counter would otherwise wrap and repeat codes.
	for i := uint64(0); i < uint64(v.policy.HOTPWindow); i++ {
		c := t.Counter + i
		if c < t.Counter || c == math.MaxUint64 {
			break
		}
		if fob.CodesEqual(code, t.Code(c)) {
			return match{use: inventory.FobUse{Counter: c + 1}}
		}
	}
	if t.Counter == math.MaxUint64 {
		return match{denial: fmt.Errorf("%w: fob %s has used every counter value", ErrExhausted, t.Serial)}
	}
	for i := uint64(1); i <= uint64(v.policy.ReplayLookback) && i <= t.Counter; i++ {
		if fob.CodesEqual(code, t.Code(t.Counter-i)) {
			m := failed(ErrReplay, "fob %s showed this code before", t.Serial)
			m.possession = i == 1 && v.recent(f, now)
			return m
		}
	}
	return failed(ErrWrongCode, "the code does not match fob %s within %d presses; if the fob was pressed many times, resync it",
		t.Serial, v.policy.HOTPWindow)
}

// checkTOTP accepts the expected step (now plus learned drift) and
// TOTPSkew steps either side (RFC 6238 §5.2); a step at or before the
// last one accepted is never accepted again.
func (v *Verifier) checkTOTP(f *inventory.Fob, code string, now time.Time) match {
	if m, bad := malformed(f, code); bad {
		return m
	}
	t := &f.Token
	raw := t.Step(now)
	want := raw + int64(t.Drift)
	for _, d := range skewOrder(v.policy.TOTPSkew) {
		step := want + int64(d)
		if step < 0 || !fob.CodesEqual(code, t.Code(uint64(step))) {
			continue
		}
		if f.HasLast && step <= f.LastStep {
			m := failed(ErrReplay, "fob %s showed this code before (time step %d)", t.Serial, step)
			m.possession = step == f.LastStep && v.recent(f, now)
			return m
		}
		return match{use: inventory.FobUse{Counter: t.Counter, Drift: int(step - raw), LastStep: step, HasStep: true}}
	}
	return failed(ErrWrongCode, "the code does not match fob %s at %s (within %d steps of %d s, drift %+d); check the fob's clock or resync it",
		t.Serial, now.UTC().Format("15:04:05 MST"), v.policy.TOTPSkew, t.Period, t.Drift)
}

// skewOrder is 0, -1, +1, -2, +2 ... so the likeliest step is tried first.
func skewOrder(skew int) []int {
	out := []int{0}
	for i := 1; i <= skew; i++ {
		out = append(out, -i, i)
	}
	return out
}

// checkYubico follows Yubico's validation steps: the public id names the
// fob, the token decrypts with its AES key and passes the CRC, the private
// id matches, and (use counter, session use) is greater than the last seen.
func (v *Verifier) checkYubico(f *inventory.Fob, otp string, now time.Time) match {
	t := &f.Token
	pub, token, err := fob.SplitYubicoOTP(otp)
	if err != nil {
		return failed(ErrMalformed, "fob %s types Yubico OTPs: %v", t.Serial, err)
	}
	if t.PublicID != "" && pub != t.PublicID {
		return failed(ErrWrongCode, "the OTP comes from public id %q, not fob %s (%s)", pub, t.Serial, t.PublicID)
	}
	fields, err := fob.OpenYubicoOTP(t.Secret, token)
	if errors.Is(err, fob.ErrYubicoCRC) {
		return failed(ErrWrongCode, "the OTP does not decrypt with fob %s's key", t.Serial)
	}
	if err != nil {
		return failed(ErrMalformed, "%v", err)
	}
	if !fob.PrivateIDEqual(fields.PrivateID[:], t.PrivateID) {
		return failed(ErrWrongCode, "the OTP's private id does not match fob %s", t.Serial)
	}
	if c := fields.Counter(); c <= t.Counter {
		m := failed(ErrReplay, "fob %s showed this OTP or a later one before (counter %d.%d, last seen %d.%d)",
			t.Serial, c>>8, c&0xff, t.Counter>>8, t.Counter&0xff)
		m.possession = c == t.Counter && v.recent(f, now)
		return m
	}
	return match{use: inventory.FobUse{Counter: fields.Counter()}}
}
