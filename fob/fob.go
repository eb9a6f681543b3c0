// Package fob holds the kinds of OTP fob keydesk knows (HOTP, TOTP and
// Yubico OTP) and their math. It is pure: no IO, and the clock is passed in.
package fob

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is the family of one-time password a fob produces.
type Kind string

const (
	HOTP   Kind = "hotp"   // RFC 4226, event based
	TOTP   Kind = "totp"   // RFC 6238, time based
	Yubico Kind = "yubico" // Yubico OTP: AES-128 encrypted, modhex encoded
)

// ParseKind accepts the names the CLI and seed files use for a kind.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "hotp", "oath-hotp":
		return HOTP, nil
	case "totp", "oath-totp":
		return TOTP, nil
	case "yubico", "yubico-otp", "yubikey":
		return Yubico, nil
	}
	return "", fmt.Errorf("unknown fob kind %q (want hotp, totp or yubico)", s)
}

// Algorithm is the HMAC hash of an OATH fob.
type Algorithm string

const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// ParseAlgorithm accepts SHA1, sha-256, HMAC-SHA512 and the like.
func ParseAlgorithm(s string) (Algorithm, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	n = strings.TrimPrefix(n, "HMAC-")
	n = strings.ReplaceAll(n, "-", "")
	switch n {
	case "SHA1":
		return SHA1, nil
	case "SHA256":
		return SHA256, nil
	case "SHA512":
		return SHA512, nil
	}
	return "", fmt.Errorf("unknown hash algorithm %q (want SHA1, SHA256 or SHA512)", s)
}

// Lengths a fob may have. RFC 4226 §4 R6 asks for at least 128 bits of
// secret; Yubico OTP keys are exactly 128 bits.
const (
	MinSecretLen   = 16
	MaxSecretLen   = 128
	YubicoKeyLen   = 16
	YubicoPrivLen  = 6
	MaxSerialLen   = 64
	DefaultDigits  = 6
	DefaultPeriod  = 30
	maxPeriod      = 3600
	maxPublicIDLen = 16 // bytes; 32 modhex characters
)

// Token is one fob as a seed file describes it and the inventory keeps it.
// Secret is the OATH seed, or the AES key of a Yubico OTP fob.
type Token struct {
	Serial    string
	Kind      Kind
	Algorithm Algorithm // OATH only; SHA1 when empty
	Digits    int       // OATH only: 6, 7 or 8
	Period    int       // TOTP only: seconds in one step
	T0        int64     // TOTP only: Unix time of step 0 (RFC 6238 T0)
	Counter   uint64    // HOTP: next counter; Yubico: last (use counter<<8 | session use)
	Drift     int       // TOTP only: learned clock drift, in steps

	Secret []byte

	PublicID  string // Yubico only: modhex public identity, may be empty
	PrivateID []byte // Yubico only: the 6-byte private identity

	Manufacturer string
	Model        string
	KeyID        string // the vendor's identifier of the key, when distinct from the serial
	User         string // the person the seed file assigns the fob to, if any
	Issuer       string // otpauth:// issuer
	Label        string // otpauth:// account label
}

// ErrInvalid is wrapped by every error [Token.Validate] returns.
var ErrInvalid = errors.New("invalid fob")

// Normalize fills the defaults a seed file may leave out.
func (t *Token) Normalize() {
	t.Serial = strings.TrimSpace(t.Serial)
	if t.Kind == HOTP || t.Kind == TOTP {
		if t.Algorithm == "" {
			t.Algorithm = SHA1
		}
		if t.Digits == 0 {
			t.Digits = DefaultDigits
		}
	}
	if t.Kind == TOTP && t.Period == 0 {
		t.Period = DefaultPeriod
	}
}

// Validate reports what is wrong with t, if anything, in words a clerk can
// act on. Every error wraps [ErrInvalid].
func (t *Token) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if t.Serial == "" {
		return bad("missing serial")
	}
	if len(t.Serial) > MaxSerialLen {
		return bad("serial longer than %d characters", MaxSerialLen)
	}
	for _, r := range t.Serial {
		if r < 0x20 || r == 0x7f {
			return bad("serial contains a control character")
		}
	}
	switch t.Kind {
	case HOTP, TOTP:
		switch t.Algorithm {
		case SHA1, SHA256, SHA512:
		default:
			return bad("unknown hash algorithm %q", t.Algorithm)
		}
		if t.Digits < 6 || t.Digits > 8 {
			return bad("%d digits (want 6, 7 or 8)", t.Digits)
		}
		if len(t.Secret) == 0 {
			return bad("missing secret")
		}
		if len(t.Secret) < MinSecretLen {
			return bad("seed too short: %d bytes (at least %d)", len(t.Secret), MinSecretLen)
		}
		if len(t.Secret) > MaxSecretLen {
			return bad("seed too long: %d bytes (at most %d)", len(t.Secret), MaxSecretLen)
		}
		if t.Kind == TOTP && (t.Period < 1 || t.Period > maxPeriod) {
			return bad("time step of %d s (want 1 to %d)", t.Period, maxPeriod)
		}
	case Yubico:
		if len(t.Secret) == 0 {
			return bad("missing AES key")
		}
		if len(t.Secret) != YubicoKeyLen {
			return bad("AES key of %d bytes (want %d)", len(t.Secret), YubicoKeyLen)
		}
		if len(t.PrivateID) != YubicoPrivLen {
			return bad("private id of %d bytes (want %d)", len(t.PrivateID), YubicoPrivLen)
		}
		if len(t.PublicID) > 2*maxPublicIDLen {
			return bad("public id longer than %d modhex characters", 2*maxPublicIDLen)
		}
		if _, err := DecodeModhex(t.PublicID); err != nil {
			return bad("public id: %v", err)
		}
	case "":
		return bad("missing kind")
	default:
		return bad("unknown kind %q", t.Kind)
	}
	return nil
}

// Step is the RFC 6238 §4.2 time step T = floor((now - T0) / X) that a TOTP
// fob shows at now, before any drift.
func (t *Token) Step(now time.Time) int64 {
	d := now.Unix() - t.T0
	p := int64(t.Period)
	if d < 0 {
		return (d - p + 1) / p
	}
	return d / p
}

// Code is the OATH code t shows at the given moving factor: the counter for
// HOTP, the time step for TOTP (RFC 6238 §4 is HOTP with T as counter).
func (t *Token) Code(factor uint64) string {
	return HOTPCode(t.Secret, factor, t.Algorithm, t.Digits)
}
