package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// Denials made before any passcode is checked, when a VPN sends the
// directory password too (RADIUS password+otp and challenge modes).
var (
	ErrWrongPassword = errors.New("wrong password")
	ErrDirectoryDown = errors.New("directory unavailable")
)

func init() {
	reasonCodes[ErrWrongPassword] = "wrong_password"
	reasonCodes[ErrDirectoryDown] = "directory_unavailable"
}

// Refuse records a denial decided before the passcode: the directory
// refused the password, or could not be asked and the fail mode is
// secure. It is in the authentication log like any decision, and counts
// toward no lockout: the directory keeps its own count of wrong
// passwords, and a passcode that was never checked proves nothing.
func (v *Verifier) Refuse(ctx context.Context, user string, from Origin, denial error, format string, args ...any) (Decision, error) {
	d := deny(denial, format, args...)
	err := v.store.Update(ctx, func(tx *inventory.Tx) error { return Record(tx, user, from, d) })
	return d, err
}

// CodeLengths are the lengths of the codes a user's fobs show: 6 to 8
// digits, or (most often) 44 for a Yubico OTP. A VPN that appends the passcode to the
// password with no delimiter is split by them.
func (v *Verifier) CodeLengths(ctx context.Context, user string) ([]int, error) {
	u, err := v.store.User(ctx, user)
	if errors.Is(err, inventory.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lengths []int
	seen := map[int]bool{}
	err = v.store.Update(ctx, func(tx *inventory.Tx) error {
		fobs, err := tx.UserFobs(u.ID)
		if err != nil {
			return err
		}
		for _, f := range fobs {
			if f.State != inventory.Assigned {
				continue
			}
			n := f.Token.Digits
			if f.Token.Kind == fob.Yubico {
				// The public id (12 modhex characters as YubiKeys ship)
				// and the 32 of the token.
				pub := len(f.Token.PublicID)
				if pub == 0 {
					pub = 12
				}
				n = pub + fob.YubicoOTPLen
			}
			if !seen[n] {
				seen[n] = true
				lengths = append(lengths, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the fobs of user %s: %w", user, err)
	}
	return lengths, nil
}
