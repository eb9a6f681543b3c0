package fob

import (
	"crypto/subtle"
	"encoding/base32"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// HOTPCode is the RFC 4226 §5.3 value of secret at counter, as a string of
// digits decimal digits. TOTP codes are HOTP codes of the time step.
func HOTPCode(secret []byte, counter uint64, alg Algorithm, digits int) string {
	code, err := hotp.GenerateCodeCustom(b32.EncodeToString(secret), counter, hotp.ValidateOpts{
		Digits:    otp.Digits(digits),
		Algorithm: otpAlgorithm(alg),
	})
	if err != nil {
		// The secret was encoded just above, so the library cannot fail to
		// decode it; anything else is a programming error.
		panic("fob: " + err.Error())
	}
	return code
}

func otpAlgorithm(a Algorithm) otp.Algorithm {
	switch a {
	case SHA256:
		return otp.AlgorithmSHA256
	case SHA512:
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}

// CodesEqual compares a typed code with an expected one in constant time.
func CodesEqual(typed, want string) bool {
	return subtle.ConstantTimeCompare([]byte(typed), []byte(want)) == 1
}

// IsDigits reports whether s is n decimal digits, the shape of an OATH code.
func IsDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NormalizeCode is a code as the fob meant it: people type "592 264" and
// "333-503-004", and copy codes with a newline, so spaces, tabs and dashes
// are dropped wherever they are. No code keydesk knows (OATH digits,
// modhex, bypass digits) holds one of them.
func NormalizeCode(typed string) string {
	if !strings.ContainsAny(typed, " \t\r\n-") {
		return typed
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '-':
			return -1
		}
		return r
	}, typed)
}
