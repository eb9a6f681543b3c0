// Package fob holds the kinds of OTP fob keydesk knows (HOTP, TOTP and
// Yubico OTP) and their math. It is pure: no IO, and the clock is passed in.
package fob

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
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
	MaxUserNameLen = 128
)

// MaxCounter is the largest counter an HOTP fob may start from: 2⁶³−1.
//
// verify accepts a code at counter c, within HOTPWindow presses of the
// fob's counter or ResyncWindow presses for a resync, and then stores c+1
// (c+2 for a resync). Those windows are ints, so at most 2⁶³−1: from a
// counter of at most 2⁶³−1, every counter either window can reach, and the
// one stored after it, stays below 2⁶⁴−1 whatever the policy says, and the
// fob can never be "exhausted" on arrival. A counter above it (most often
// −1 written as unsigned, 2⁶⁴−1) has, under some policy, codes the fob
// shows that keydesk cannot accept. It also keeps every counter exact in the
// inventory's signed 64-bit column. A real fob never gets near: at one press
// a second, 2⁶³ presses take 3·10¹¹ years.
const MaxCounter = 1<<63 - 1

// maxYubicoCounter is the largest (use counter, session use) an OTP can
// carry: 15 bits of use counter (the top bit is Caps Lock), 8 of session use.
// A Yubico fob's Counter is the last one seen, and only a greater one is
// accepted, so a fob that has already seen this one can never log in again.
const maxYubicoCounter = 0x7fff<<8 | 0xff

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
	User         string // the person the seed file assigns the fob to, if any; see [CheckUserName]
	Issuer       string // otpauth:// issuer
	Label        string // otpauth:// account label

	// NotBefore and NotAfter bound the time the fob's key may be used
	// (PSKC's Policy StartDate and ExpiryDate, RFC 6030 §5); the zero time
	// leaves that side unbounded. Normalize makes them UTC.
	NotBefore time.Time
	NotAfter  time.Time
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
	if !t.NotBefore.IsZero() {
		t.NotBefore = t.NotBefore.UTC()
	}
	if !t.NotAfter.IsZero() {
		t.NotAfter = t.NotAfter.UTC()
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
	if t.User != "" {
		if err := CheckUserName(t.User); err != nil {
			return bad("%v", err)
		}
	}
	if !t.NotBefore.IsZero() && !t.NotAfter.IsZero() && t.NotAfter.Before(t.NotBefore) {
		return bad("key expires (%s) before it starts (%s)", t.NotAfter.UTC().Format(time.RFC3339), t.NotBefore.UTC().Format(time.RFC3339))
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
		if t.Kind == HOTP && t.Counter > MaxCounter {
			return bad("counter %d is past %d: the fob would run out of codes keydesk can accept", t.Counter, uint64(MaxCounter))
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
		if t.Counter >= maxYubicoCounter {
			return bad("counter %d.%d: no OTP the fob can type is newer, so none would be accepted", t.Counter>>8, t.Counter&0xff)
		}
	case "":
		return bad("missing kind")
	default:
		return bad("unknown kind %q", t.Kind)
	}
	return nil
}

// CheckUserName says what is wrong with a keydesk user name, if anything:
// it is 1 to 128 bytes and holds neither white space nor a control
// character. The inventory, the seed file readers and the server all
// apply this one rule.
func CheckUserName(name string) error {
	if name == "" {
		return errors.New("empty user name")
	}
	if len(name) > MaxUserNameLen {
		return fmt.Errorf("user name longer than %d characters", MaxUserNameLen)
	}
	// A user name is what a user types at a login prompt, or what a
	// directory holds as an account name: never white space, which no
	// VPN client sends intact.
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			return fmt.Errorf("user name %q contains white space; a user name is what the user types to log in (the person's name goes in the full name)", name)
		case unicode.IsControl(r):
			return fmt.Errorf("user name %q contains a control character", name)
		}
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
