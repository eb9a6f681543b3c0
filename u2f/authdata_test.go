package u2f

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func TestAuthenticatorDataErrors(t *testing.T) {
	head := specRPIDHash
	at := head + "41" + "00000001" + "f8a011f38c0a4d15800617111f9edc7d"
	key := "a5010203262001215820643566c206dd00227005fa5de69320616ca268043a38f08bde2e9dc45a5cafaf225820171353b2932434703726aae579fa6542432861fe591e481ea22d63997e1a5290"
	for _, tt := range []struct {
		name, in string
		at       int
		want     string
	}{
		{"short", head, 32, "end before the signature counter"},
		{"BS without BE", head + "1100000001", 32, "not backup eligible"},
		{"trailing", head + "0100000001" + "00", 37, "1 bytes after the end"},
		{"no AAGUID", head + "4100000001" + "f8a0", 39, "inside the AAGUID"},
		{"id length 0", at + "0000" + key, 53, "credential ID length 0"},
		{"id length 1024", at + "0400" + key, 53, "credential ID length 1024"},
		{"cut id", at + "0010" + "aabb", 57, "inside the 16-byte credential ID"},
		{"no key", at + "0001" + "aa", 56, "credential public key"},
		{"bad key", at + "0001" + "aa" + "a0", 56, "COSE key"},
		{"extensions flag, no map", head + "8100000001", 37, "extensions"},
		{"extensions not text keys", head + "8100000001" + "a10101", 37, "extensions"},
		{"credProtect 4", head + "8100000001" + "a16b6372656450726f7465637404", 37, "credProtect"},
		{"key then trailing", at + "0001" + "aa" + key + "00", 56 + len(key)/2, "1 bytes after the end"},
	} {
		d, err := ParseAuthenticatorData(unhex(t, tt.in))
		var ae *AuthDataError
		if d != nil || !errors.As(err, &ae) || ae.Byte != tt.at || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want byte %d and %q", tt.name, err, tt.at, tt.want)
		}
	}
	d, err := ParseAuthenticatorData(unhex(t, head+"8500000001"+"a16b6372656450726f7465637403"))
	if err != nil || d.CredProtect != CredProtectUVRequired || !d.Flags.Has(FlagUserVerified) {
		t.Errorf("credProtect 3: %+v, %v", d, err)
	}
	if again, err := d.Marshal(); err != nil || hexString(again) != hexString(d.Raw) {
		t.Errorf("re-encoded %x, %v", again, err)
	}
}

func TestStatusWords(t *testing.T) {
	for code, want := range map[CTAP2Error]string{
		ErrPINInvalid:     "the PIN is wrong (CTAP2_ERR_PIN_INVALID, 0x31)",
		ErrPINAuthBlocked: "unplug the key and plug it in again (CTAP2_ERR_PIN_AUTH_BLOCKED, 0x34)",
		ErrPUATRequired:   "the key needs its PIN for this (CTAP2_ERR_PUAT_REQUIRED, 0x36)",
		CTAP2Error(0xf3):  "the key failed (CTAP2_ERR_VENDOR, 0xf3)",
		CTAP2Error(0x50):  "(unknown status, 0x50)",
	} {
		if got := code.Error(); !strings.Contains(got, want) {
			t.Errorf("%02x: %q, want %q", byte(code), got, want)
		}
	}
	err := errors.Join(errors.New("ctap2 getPinToken"), ErrPINBlocked)
	var code CTAP2Error
	if !errors.Is(err, ErrPINBlocked) || !errors.As(err, &code) || code != 0x32 {
		t.Error("a wrapped status is not found")
	}
}
