package u2f

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// PIN rules of CTAP 2.1 §6.5.1: at least 4 Unicode code points (or the
// key's minPINLength), at most 63 bytes of UTF-8, sent padded with zero
// bytes to 64.
const (
	MinPINLength  = 4
	MaxPINBytes   = 63
	PaddedPINSize = 64
)

// ErrPINRules is matched by every PIN that CheckPIN refuses.
var ErrPINRules = errors.New("PIN refused")

// CheckPIN applies the rules to a new PIN, with the key's minimum length
// in code points (0: the default 4). The PIN itself never appears in the
// error.
func CheckPIN(pin string, minLength int) error {
	if minLength < MinPINLength {
		minLength = MinPINLength
	}
	switch n := utf8.RuneCountInString(pin); {
	case !utf8.ValidString(pin):
		return fmt.Errorf("%w: not valid UTF-8", ErrPINRules)
	case strings.IndexByte(pin, 0) >= 0:
		return fmt.Errorf("%w: contains a zero byte", ErrPINRules)
	case n < minLength:
		return fmt.Errorf("%w: %d characters, the key wants at least %d", ErrPINRules, n, minLength)
	case len(pin) > MaxPINBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrPINRules, len(pin), MaxPINBytes)
	}
	return nil
}

// PadPIN is the paddedPin of setPIN and changePIN: the UTF-8 bytes and
// zeros to 64 (§6.5.5.5). The caller has checked the PIN.
func PadPIN(pin string) []byte {
	b := make([]byte, PaddedPINSize)
	copy(b, pin)
	return b
}

// UnpadPIN is the authenticator's side: a paddedPin of 64 bytes with its
// trailing zeros dropped (§6.5.5.5 steps 7 and 8).
func UnpadPIN(padded []byte) ([]byte, error) {
	if len(padded) != PaddedPINSize {
		return nil, fmt.Errorf("padded PIN of %d bytes, want %d", len(padded), PaddedPINSize)
	}
	return bytes.TrimRight(padded, "\x00"), nil
}

// PINHash is LEFT(SHA-256(pin), 16), what the platform sends (encrypted)
// and what the authenticator stores instead of the PIN (§6.5.5.5 step 12).
func PINHash(pin []byte) []byte {
	h := sha256.Sum256(pin)
	return h[:16]
}
