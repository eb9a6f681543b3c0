package verify

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// ErrResync is returned when two codes do not find the fob's position.
var ErrResync = Refusef("resync failed")

// Resync finds where a drifted fob is from two consecutive codes it shows:
// HOTP within ResyncWindow presses ahead of the counter, TOTP within
// ResyncWindow steps of now. It returns the fob's new position; a locked
// fob may be resynced (the clerk has just seen it work), a lost or
// revoked one may not.
func (p Policy) Resync(f *inventory.Fob, code1, code2 string, now time.Time) (inventory.FobUse, error) {
	if refused := p.refuseFob(f, now); refused.Denial != nil && !errors.Is(refused.Denial, ErrFobLocked) {
		return inventory.FobUse{}, refused.Denial
	}
	t := &f.Token
	if t.Kind == fob.Yubico {
		return inventory.FobUse{}, Refusef("fob %s is a Yubico OTP fob, which does not drift: nothing to resync", t.Serial)
	}
	code1, code2 = fob.NormalizeCode(code1), fob.NormalizeCode(code2)
	for _, c := range []string{code1, code2} {
		if !fob.IsDigits(c, t.Digits) {
			return inventory.FobUse{}, fmt.Errorf("%w: a code of fob %s is %d digits", ErrMalformed, t.Serial, t.Digits)
		}
	}
	if use, ok := p.findPair(f, code1, code2, now); ok {
		return use, nil
	}
	return inventory.FobUse{}, fmt.Errorf("%w: the two codes are not consecutive codes of fob %s within %d %s; check the serial and that the codes were read one after the other",
		ErrResync, t.Serial, p.ResyncWindow, map[bool]string{true: "presses", false: "steps of now"}[t.Kind == fob.HOTP])
}

func (p Policy) findPair(f *inventory.Fob, c1, c2 string, now time.Time) (inventory.FobUse, bool) {
	t := &f.Token
	w := int64(p.ResyncWindow)
	if t.Kind == fob.HOTP {
		for i := uint64(0); i < uint64(w); i++ {
			c := t.Counter + i
			if c+2 < t.Counter || c >= math.MaxUint64-1 {
				break
			}
			if fob.CodesEqual(c1, t.Code(c)) && fob.CodesEqual(c2, t.Code(c+1)) {
				return inventory.FobUse{Counter: c + 2}, true
			}
		}
		return inventory.FobUse{}, false
	}
	raw := t.Step(now)
	for d := -w; d <= w; d++ {
		s := raw + d
		if s < 0 || (f.HasLast && s <= f.LastStep) {
			continue
		}
		if fob.CodesEqual(c1, t.Code(uint64(s))) && fob.CodesEqual(c2, t.Code(uint64(s+1))) {
			// The second code is the one the fob shows now.
			return inventory.FobUse{Counter: t.Counter, Drift: int(s + 1 - raw), LastStep: s + 1, HasStep: true}, true
		}
	}
	return inventory.FobUse{}, false
}
