package u2f

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// AuthDataFlags is the flags byte of authenticator data (WebAuthn §6.1).
type AuthDataFlags byte

const (
	FlagUserPresent        AuthDataFlags = 0x01 // UP
	FlagUserVerified       AuthDataFlags = 0x04 // UV
	FlagBackupEligible     AuthDataFlags = 0x08 // BE
	FlagBackedUp           AuthDataFlags = 0x10 // BS
	FlagAttestedCredential AuthDataFlags = 0x40 // AT
	FlagExtensions         AuthDataFlags = 0x80 // ED
)

// Has reports whether every flag of f is set.
func (a AuthDataFlags) Has(f AuthDataFlags) bool { return a&f == f }

// MaxCredentialIDLength is the longest credential ID WebAuthn allows
// (§6.5.1: credentialIdLength ≤ 1023).
const MaxCredentialIDLength = 1023

// AuthenticatorData is what an authenticator signs about itself and the
// request (WebAuthn §6.1).
type AuthenticatorData struct {
	RPIDHash  [32]byte
	Flags     AuthDataFlags
	SignCount uint32
	// Credential is the attested credential data (flag AT), present in
	// makeCredential answers.
	Credential *AttestedCredential
	// Extensions are the authenticator extension outputs (flag ED), each
	// value as sent.
	Extensions map[string]cbor.RawMessage
	// CredProtect is the credProtect extension's output, 0 if none.
	CredProtect CredProtect
	Raw         []byte // the authenticator data as sent
}

// AttestedCredential is the new credential in a makeCredential answer
// (WebAuthn §6.5.1).
type AttestedCredential struct {
	AAGUID    AAGUID
	ID        []byte
	PublicKey *COSEKey
}

// AuthDataError is authenticator data that does not follow WebAuthn §6.1.
type AuthDataError struct {
	Byte   int // offset in the authenticator data
	Reason string
}

func (e *AuthDataError) Error() string {
	return fmt.Sprintf("authenticator data: at byte %d: %s", e.Byte, e.Reason)
}

// authDataHeader is rpIdHash (32), flags (1) and signCount (4).
const authDataHeader = 37

// ParseAuthenticatorData reads authenticator data. It returns nil and an
// *AuthDataError on error.
func ParseAuthenticatorData(b []byte) (*AuthenticatorData, error) {
	fail := func(at int, format string, args ...any) (*AuthenticatorData, error) {
		return nil, &AuthDataError{Byte: at, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > MaxMessage {
		return fail(MaxMessage, "%d bytes exceed %d", len(b), MaxMessage)
	}
	if len(b) < authDataHeader {
		return fail(len(b), "%d bytes end before the signature counter does", len(b))
	}
	raw := append([]byte(nil), b...)
	d := &AuthenticatorData{Flags: AuthDataFlags(raw[32]), SignCount: binary.BigEndian.Uint32(raw[33:]), Raw: raw}
	copy(d.RPIDHash[:], raw)
	if d.Flags.Has(FlagBackedUp) && !d.Flags.Has(FlagBackupEligible) {
		return fail(32, "flags 0x%02x: backed up (BS) but not backup eligible (BE)", byte(d.Flags))
	}
	at := authDataHeader
	if d.Flags.Has(FlagAttestedCredential) {
		if len(raw) < at+18 {
			return fail(len(raw), "ends inside the AAGUID and credential ID length")
		}
		c := &AttestedCredential{}
		copy(c.AAGUID[:], raw[at:])
		n := int(binary.BigEndian.Uint16(raw[at+16:]))
		if n == 0 || n > MaxCredentialIDLength {
			return fail(at+16, "credential ID length %d, want 1 to %d", n, MaxCredentialIDLength)
		}
		at += 18
		if len(raw) < at+n {
			return fail(len(raw), "ends inside the %d-byte credential ID", n)
		}
		c.ID = raw[at : at+n]
		at += n
		var key cbor.RawMessage
		rest, err := strict.UnmarshalFirst(raw[at:], &key)
		if err != nil {
			return fail(at, "credential public key: %v", err)
		}
		if c.PublicKey, err = ParseCOSEKey(key); err != nil {
			return fail(at, "%v", err)
		}
		c.PublicKey.Raw = raw[at : at+len(key)]
		at = len(raw) - len(rest)
		d.Credential = c
	}
	if d.Flags.Has(FlagExtensions) {
		rest, err := strict.UnmarshalFirst(raw[at:], &d.Extensions)
		if err != nil {
			return fail(at, "extensions: %v", describe(err))
		}
		if d.Extensions == nil {
			return fail(at, "extensions flag set but the extensions are null")
		}
		if v, ok := d.Extensions[ExtCredProtect]; ok {
			var cp uint8
			if err := strict.Unmarshal(v, &cp); err != nil || cp < 1 || cp > 3 {
				return fail(at, "extension credProtect: want 1, 2 or 3")
			}
			d.CredProtect = CredProtect(cp)
		}
		at = len(raw) - len(rest)
	}
	if at != len(raw) {
		return fail(at, "%d bytes after the end", len(raw)-at)
	}
	return d, nil
}

// Marshal encodes the authenticator data, setting AT and ED by whether
// Credential and Extensions are there; the soft key builds its answers
// with it.
func (d *AuthenticatorData) Marshal() ([]byte, error) {
	flags := d.Flags &^ (FlagAttestedCredential | FlagExtensions)
	b := make([]byte, authDataHeader, 256)
	copy(b, d.RPIDHash[:])
	binary.BigEndian.PutUint32(b[33:], d.SignCount)
	if c := d.Credential; c != nil {
		if len(c.ID) == 0 || len(c.ID) > MaxCredentialIDLength || c.PublicKey == nil {
			return nil, fmt.Errorf("authenticator data: credential ID of %d bytes or no public key", len(c.ID))
		}
		flags |= FlagAttestedCredential
		b = append(b, c.AAGUID[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.ID)))
		b = append(append(b, c.ID...), c.PublicKey.Raw...)
	}
	if len(d.Extensions) > 0 {
		flags |= FlagExtensions
		ext, err := encode(d.Extensions)
		if err != nil {
			return nil, err
		}
		b = append(b, ext...)
	}
	b[32] = byte(flags)
	return b, nil
}

// ExtensionNames lists the extension outputs present, sorted.
func (d *AuthenticatorData) ExtensionNames() []string {
	var names []string
	for k := range d.Extensions {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
