package u2f

import (
	"encoding/binary"
	"fmt"
)

// Sizes fixed by the U2F raw message formats (§4, §5).
const (
	ParamSize     = 32 // challenge and application parameters, SHA-256
	PublicKeySize = 65 // uncompressed P-256 point: 0x04 || X || Y
	maxSignature  = 72 // DER ECDSA P-256: 30 len 02 ≤33 r 02 ≤33 s
	minSignature  = 8
)

// ParseError is a U2F response that does not follow the raw message format.
type ParseError struct {
	Message string // "registration", "authentication"
	Byte    int    // offset in the response data
	Reason  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("u2f %s: at byte %d: %s", e.Message, e.Byte, e.Reason)
}

// Registration is a key's answer to REGISTER (U2F raw message formats §4).
// Every field is a slice of Raw.
type Registration struct {
	PublicKey   []byte // the new credential's key: 65 bytes, 0x04 || X || Y
	KeyHandle   []byte
	Certificate []byte // attestation certificate, X.509 DER
	Signature   []byte // ECDSA (DER) by the attestation key over SignedData
	Raw         []byte
}

// ParseRegistration reads a REGISTER answer, status word removed. On error
// it returns nil and a *ParseError.
func ParseRegistration(b []byte) (*Registration, error) {
	fail := func(at int, format string, args ...any) (*Registration, error) {
		return nil, &ParseError{Message: "registration", Byte: at, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > MaxMessage {
		return fail(MaxMessage, "response of %d bytes exceeds %d", len(b), MaxMessage)
	}
	raw := append([]byte(nil), b...)
	const khLenAt = 1 + PublicKeySize // 66
	switch {
	case len(raw) < 1:
		return fail(0, "empty response")
	case raw[0] != 0x05:
		return fail(0, "reserved byte 0x%02x, want 0x05", raw[0])
	case len(raw) < khLenAt+1:
		return fail(len(raw), "response of %d bytes ends inside the public key", len(raw))
	case raw[1] != 0x04:
		return fail(1, "public key starts with 0x%02x, want 0x04 (uncompressed point)", raw[1])
	}
	khLen := int(raw[khLenAt])
	if khLen == 0 {
		return fail(khLenAt, "key handle length 0")
	}
	certAt := khLenAt + 1 + khLen
	if len(raw) < certAt {
		return fail(len(raw), "response ends inside the %d-byte key handle", khLen)
	}
	certLen, err := derLength(raw[certAt:])
	if err != nil {
		return fail(certAt, "attestation certificate: %v", err)
	}
	sigAt := certAt + certLen
	if err := checkSignature(raw[sigAt:]); err != nil {
		return fail(sigAt, "signature: %v", err)
	}
	return &Registration{
		PublicKey:   raw[1:khLenAt],
		KeyHandle:   raw[khLenAt+1 : certAt],
		Certificate: raw[certAt:sigAt],
		Signature:   raw[sigAt:],
		Raw:         raw,
	}, nil
}

// SignedData returns the bytes the attestation signature covers (§4):
// 0x00 || application parameter || challenge parameter || key handle ||
// public key.
func (r *Registration) SignedData(appParam, challengeParam [ParamSize]byte) []byte {
	d := make([]byte, 0, 1+2*ParamSize+len(r.KeyHandle)+len(r.PublicKey))
	d = append(d, 0x00)
	d = append(d, appParam[:]...)
	d = append(d, challengeParam[:]...)
	d = append(d, r.KeyHandle...)
	return append(d, r.PublicKey...)
}

// Authentication is a key's answer to AUTHENTICATE (§5). Every slice is
// a slice of Raw.
type Authentication struct {
	Flags     byte // bit 0: the user was present; the other bits are reserved
	Counter   uint32
	Signature []byte // ECDSA (DER) by the credential's key over SignedData
	Raw       []byte
}

// UserPresent reports bit 0 of the flags.
func (a *Authentication) UserPresent() bool { return a.Flags&0x01 != 0 }

// ParseAuthentication reads an AUTHENTICATE answer, status word removed.
// On error it returns nil and a *ParseError.
func ParseAuthentication(b []byte) (*Authentication, error) {
	fail := func(at int, format string, args ...any) (*Authentication, error) {
		return nil, &ParseError{Message: "authentication", Byte: at, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > MaxMessage {
		return fail(MaxMessage, "response of %d bytes exceeds %d", len(b), MaxMessage)
	}
	if len(b) < 5 {
		return fail(len(b), "response of %d bytes ends before the counter does", len(b))
	}
	raw := append([]byte(nil), b...)
	if err := checkSignature(raw[5:]); err != nil {
		return fail(5, "signature: %v", err)
	}
	return &Authentication{Flags: raw[0], Counter: binary.BigEndian.Uint32(raw[1:]), Signature: raw[5:], Raw: raw}, nil
}

// SignedData returns the bytes the signature covers (§5): application
// parameter || user presence byte || counter || challenge parameter.
func (a *Authentication) SignedData(appParam, challengeParam [ParamSize]byte) []byte {
	d := make([]byte, 0, 2*ParamSize+5)
	d = append(d, appParam[:]...)
	d = append(d, a.Flags)
	d = binary.BigEndian.AppendUint32(d, a.Counter)
	return append(d, challengeParam[:]...)
}

// derLength returns the length, header included, of the DER SEQUENCE at
// the start of b. The U2F format gives no length for the certificate, so
// it is read from the certificate's own ASN.1 header (§4).
func derLength(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("%d bytes left, too few for a DER header", len(b))
	}
	if b[0] != 0x30 {
		return 0, fmt.Errorf("tag 0x%02x, want 0x30 (SEQUENCE)", b[0])
	}
	n, hdr := int(b[1]), 2
	switch {
	case n == 0x80:
		return 0, fmt.Errorf("indefinite length, not DER")
	case n > 0x80:
		k := n & 0x7f
		if k > 2 {
			return 0, fmt.Errorf("length of %d bytes is longer than any U2F message", k)
		}
		if len(b) < 2+k {
			return 0, fmt.Errorf("length cut short")
		}
		n, hdr = 0, 2+k
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if n < 0x80 || (k == 2 && n < 0x100) {
			return 0, fmt.Errorf("length %d not in its shortest form, not DER", n)
		}
	}
	if hdr+n > len(b) {
		return 0, fmt.Errorf("declares %d bytes, %d left", hdr+n, len(b))
	}
	return hdr + n, nil
}

// checkSignature accepts exactly one DER SEQUENCE of a plausible size for a
// P-256 ECDSA signature; whether it verifies is for the verifier.
func checkSignature(b []byte) error {
	if len(b) < minSignature || len(b) > maxSignature {
		return fmt.Errorf("%d bytes, want %d to %d", len(b), minSignature, maxSignature)
	}
	n, err := derLength(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("trailing data (%d bytes) after the signature", len(b)-n)
	}
	return nil
}
