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
	if err := p.usedPair(f, code1, code2, now); err != nil {
		return inventory.FobUse{}, err
	}
	return inventory.FobUse{}, fmt.Errorf("%w: the two codes are not consecutive codes of fob %s within %d %s; check the serial and that the codes were read one after the other",
		ErrResync, t.Serial, p.ResyncWindow, map[bool]string{true: "presses", false: "steps of now"}[t.Kind == fob.HOTP])
}

// usedPair explains two consecutive codes the fob showed before and that
// were already used: they prove nothing about where the fob is now (they
// may have been read over a shoulder), so they do not resync it, and the
// clerk is told to read two new ones rather than that the codes are not
// consecutive. It looks back as far as a resync looks ahead.
func (p Policy) usedPair(f *inventory.Fob, c1, c2 string, now time.Time) error {
	t := &f.Token
	w := int64(p.ResyncWindow)
	if t.Kind == fob.HOTP {
		for back := uint64(1); back <= uint64(w) && back <= t.Counter; back++ {
			c := t.Counter - back
			if !fob.CodesEqual(c1, t.Code(c)) || !fob.CodesEqual(c2, t.Code(c+1)) {
				continue
			}
			which := "both were used already"
			if c+1 == t.Counter {
				which = "the first was used already"
			}
			return fmt.Errorf("%w: the two codes follow each other, but fob %s showed them before and %s (counters %d and %d; the fob is at counter %d or later): press the button twice more and give those two new codes",
				ErrResync, t.Serial, which, c, c+1, t.Counter)
		}
		return nil
	}
	if !f.HasLast {
		return nil
	}
	raw := t.Step(now)
	for d := -w; d <= w; d++ {
		s := raw + d
		if s < 0 || s > f.LastStep {
			continue
		}
		if !fob.CodesEqual(c1, t.Code(uint64(s))) || !fob.CodesEqual(c2, t.Code(uint64(s+1))) {
			continue
		}
		// A TOTP step once accepted, or any step before it, is never
		// accepted again (RFC 6238 §5.2).
		at := time.Unix(t.T0+s*int64(t.Period), 0)
		return fmt.Errorf("%w: the two codes follow each other, but fob %s showed them at %s, and a code from then or later was accepted already, so they cannot be used again: wait until the fob shows a new code, then give that code and the next one",
			ErrResync, t.Serial, clock(at))
	}
	return nil
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
