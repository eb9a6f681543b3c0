package verify_test

import (
	"math"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/verify"
)

// FuzzVerifyCode types arbitrary text as a code, at the counter and at the
// user's passcode prompt. Whatever it is, the verifier decides without an
// error, and it allows only a code the fob really shows at that moment.
func FuzzVerifyCode(f *testing.F) {
	p := verify.DefaultPolicy
	p.LockoutAfter = math.MaxInt32 // keep every fob answering
	e := newEnvPolicy(f, p)
	h, tt, y := hotp("FZ-H"), totp("FZ-T"), yubico("FZ-Y")
	e.add(f, "fuzz", h, tt, y)
	for _, s := range []string{
		h.Code(0), h.Code(9), h.Code(10), tt.Code(step), tt.Code(step + 2),
		otp(f, y, 1, 0), strings.ToUpper(otp(f, y, 2, 0)), otp(f, y, 1, 0)[:40],
		"", " ", "000000", "123456789", "12345678", "１２３４５６", "vvccccc\x00cccc", strings.Repeat("c", 80),
	} {
		f.Add(s)
	}
	toks := map[string]fob.Token{"FZ-H": h, "FZ-T": tt, "FZ-Y": y}
	f.Fuzz(func(t *testing.T, code string) {
		for _, serial := range []string{"FZ-H", "FZ-T", "FZ-Y"} {
			// Reads outside an update carry no secrets: take them from
			// the tokens stored, and the counters from the store.
			before := e.fob(t, serial)
			before.Token.Secret, before.Token.PrivateID = toks[serial].Secret, toks[serial].PrivateID
			d, err := e.v.VerifySerial(t.Context(), serial, code, verify.Origin{Transport: "test"})
			if err != nil {
				t.Fatalf("%s, %q: %v", serial, code, err)
			}
			if d.Allow != (d.Denial == nil) {
				t.Fatalf("%s, %q: allow %v with denial %v", serial, code, d.Allow, d.Denial)
			}
			if d.Allow && !shows(before.Token, before.LastStep, before.HasLast, code) {
				t.Fatalf("%s allowed %q, which it does not show", serial, code)
			}
		}
		d, err := e.v.VerifyUser(t.Context(), "fuzz", code, verify.Origin{Transport: "test"})
		if err != nil {
			t.Fatalf("user, %q: %v", code, err)
		}
		if d.Allow && d.Method != "fob" {
			t.Fatalf("user allowed %q by %s; no bypass code was issued", code, d.Method)
		}
	})
}

// shows reports whether tok, in the state read before the verification,
// could have shown code at the fake clock's moment.
func shows(tok fob.Token, lastStep int64, hasLast bool, code string) bool {
	code = strings.TrimSpace(code)
	switch tok.Kind {
	case fob.HOTP:
		for c := tok.Counter; c < tok.Counter+10; c++ {
			if tok.Code(c) == code {
				return true
			}
		}
	case fob.TOTP:
		for s := int64(step) - 1; s <= int64(step)+1; s++ {
			if (!hasLast || s > lastStep) && tok.Code(uint64(s)) == code {
				return true
			}
		}
	case fob.Yubico:
		_, token, err := fob.SplitYubicoOTP(code)
		if err != nil {
			return false
		}
		fields, err := fob.OpenYubicoOTP(tok.Secret, token)
		return err == nil && fields.Counter() > tok.Counter && fob.PrivateIDEqual(fields.PrivateID[:], tok.PrivateID)
	}
	return false
}
