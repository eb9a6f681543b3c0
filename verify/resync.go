package verify

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// ErrResync is returned when two codes do not find the fob's position.
var ErrResync = Refusef("resync failed")

// Resync finds where a drifted fob is from two consecutive codes it shows:
// HOTP within ResyncWindow presses ahead of the counter, TOTP within
// ResyncWindow steps of now. It also clears the fob's failures and lock,
// since the clerk has just seen it work.
func (v *Verifier) Resync(ctx context.Context, serial, code1, code2, actor string) (Decision, error) {
	var d Decision
	err := v.store.Update(ctx, func(tx *inventory.Tx) error {
		f, err := tx.Fob(serial)
		if err != nil {
			return err
		}
		if refused := refuseFob(&f); refused.Denial != nil && !errors.Is(refused.Denial, ErrFobLocked) {
			return refused.Denial
		}
		t := &f.Token
		for _, c := range []string{code1, code2} {
			if t.Kind == fob.Yubico {
				return Refusef("fob %s is a Yubico OTP fob, which does not drift: nothing to resync", serial)
			}
			if !fob.IsDigits(c, t.Digits) {
				return fmt.Errorf("%w: a code of fob %s is %d digits", ErrMalformed, serial, t.Digits)
			}
		}
		use, ok := v.findPair(&f, code1, code2, tx)
		if !ok {
			return fmt.Errorf("%w: the two codes are not consecutive codes of fob %s within %d %s; check the serial and that the codes were read one after the other",
				ErrResync, serial, v.policy.ResyncWindow, map[bool]string{true: "presses", false: "steps of now"}[t.Kind == fob.HOTP])
		}
		if err := tx.RecordFobUse(f.ID, use); err != nil {
			return err
		}
		if err := tx.UnlockFob(f.ID); err != nil {
			return err
		}
		d = Decision{Allow: true, Serial: serial, Method: "fob", Drift: use.Drift}
		detail := fmt.Sprintf("counter now %d", use.Counter)
		if t.Kind == fob.TOTP {
			detail = fmt.Sprintf("drift now %+d steps", use.Drift)
		}
		return tx.Audit(actor, "fob resync", "fob "+serial, detail)
	})
	return d, err
}

func (v *Verifier) findPair(f *inventory.Fob, c1, c2 string, tx *inventory.Tx) (inventory.FobUse, bool) {
	t := &f.Token
	w := int64(v.policy.ResyncWindow)
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
	raw := t.Step(tx.Now())
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
