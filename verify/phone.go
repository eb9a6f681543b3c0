package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// Phone apps: what an authenticator app is given, and the check of its
// first code.

// Phone app parameters (the Key Uri Format's defaults, which every
// authenticator app reads): TOTP, HMAC-SHA1, 6 digits, 30-second steps,
// and a 160-bit seed, the size RFC 4226 §4 R6 recommends.
const (
	PhoneSeedBytes = 20
	PhoneDigits    = 6
	PhonePeriod    = 30
)

// PhoneToken is the fob a phone app's seed makes.
func PhoneToken(serial string, secret []byte, issuer, account string) fob.Token {
	t := fob.Token{Serial: serial, Kind: fob.TOTP, Algorithm: fob.SHA1, Digits: PhoneDigits, Period: PhonePeriod,
		Secret: secret, Manufacturer: "phone app", Model: "authenticator app", Issuer: issuer, Label: account}
	t.Normalize()
	return t
}

// ErrPairingCode is a first code that does not pair a phone app: wrong,
// or not six digits. It is a refusal, not a failed login: the seed was
// only just shown, and a mistyped first code locks nobody.
var ErrPairingCode = Refusef("that code is not the one the phone app shows now")

// ErrPairingExpired is a pending phone app whose time to pair ran out.
var ErrPairingExpired = Refusef("the phone app was not paired in time; add it again for a new code")

// PairPhoneApp checks the first code of a pending phone app at now, as a
// TOTP fob's code is checked (the same window and skew). On success it
// returns the fob's first use, whose step the fob will never accept
// again; otherwise an error wrapping [ErrPairingCode] that says why.
func (p Policy) PairPhoneApp(t fob.Token, code string, now time.Time) (inventory.FobUse, error) {
	f := inventory.Fob{Token: t, State: inventory.Assigned}
	m := (&Verifier{policy: p}).check(&f, code, now)
	switch {
	case m.denial == nil:
		return m.use, nil
	case errors.Is(m.denial, ErrMalformed):
		return inventory.FobUse{}, fmt.Errorf("%w: a phone app shows %d digits", ErrPairingCode, t.Digits)
	}
	return inventory.FobUse{}, fmt.Errorf("%w: check that the phone's clock is set automatically, and type the code shown now", ErrPairingCode)
}
