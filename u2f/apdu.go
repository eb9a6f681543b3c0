package u2f

import (
	"encoding/binary"
	"fmt"
)

// U2F instructions (FIDO U2F raw message formats: REGISTER §4, AUTHENTICATE
// §5, VERSION §6.1).
const (
	InsRegister     byte = 0x01
	InsAuthenticate byte = 0x02
	InsVersion      byte = 0x03
)

// Control bytes of AUTHENTICATE (U2F raw message formats §5).
const (
	AuthCheckOnly       byte = 0x07
	AuthEnforcePresence byte = 0x03
	AuthDontEnforce     byte = 0x08
)

// StatusError is an ISO 7816-4 status word other than 0x9000, as a U2F key
// answers it (U2F raw message formats §3.3).
type StatusError uint16

const (
	SWNoError                StatusError = 0x9000
	SWConditionsNotSatisfied StatusError = 0x6985 // user presence required
	SWWrongData              StatusError = 0x6a80 // e.g. key handle not ours
	SWWrongLength            StatusError = 0x6700
	SWClaNotSupported        StatusError = 0x6e00
	SWInsNotSupported        StatusError = 0x6d00
	SWUnknown                StatusError = 0x6f00
)

func (s StatusError) Error() string {
	var d string
	switch s {
	case SWConditionsNotSatisfied:
		d = "user presence required"
	case SWWrongData:
		d = "wrong data: the key does not know this key handle"
	case SWWrongLength:
		d = "wrong length"
	case SWClaNotSupported:
		d = "class not supported"
	case SWInsNotSupported:
		d = "instruction not supported"
	default:
		d = "unexpected status"
	}
	return fmt.Sprintf("u2f: key answered 0x%04x (%s)", uint16(s), d)
}

// APDU is a U2F request: an ISO 7816-4 command APDU.
type APDU struct {
	Ins, P1, P2 byte
	Data        []byte
}

// maxAPDU bounds a request: a header, Lc, the data and Le within one
// CTAPHID message.
const maxAPDU = MaxMessage

// Encode writes the request with extended length encoding, as U2F raw
// message formats §3.1 requires: CLA INS P1 P2, then 0 Lc1 Lc2 data Le1
// Le2 when there is data, or 0 Le1 Le2 when there is none. Le = 0 asks for
// up to 65536 bytes.
func (a APDU) Encode() []byte {
	b := []byte{0, a.Ins, a.P1, a.P2}
	if len(a.Data) == 0 {
		return append(b, 0, 0, 0)
	}
	b = append(b, 0, byte(len(a.Data)>>8), byte(len(a.Data)))
	b = append(b, a.Data...)
	return append(b, 0, 0)
}

// APDUError is a request that ParseAPDU could not read.
type APDUError struct {
	Byte   int
	Reason string
}

func (e *APDUError) Error() string {
	return fmt.Sprintf("u2f: bad request at byte %d: %s", e.Byte, e.Reason)
}

// ParseAPDU reads a request in extended length encoding, or in the short
// encoding that some hosts send (one-byte Lc and Le).
func ParseAPDU(b []byte) (APDU, error) {
	if len(b) > maxAPDU {
		return APDU{}, &APDUError{Byte: maxAPDU, Reason: fmt.Sprintf("request of %d bytes exceeds %d", len(b), maxAPDU)}
	}
	if len(b) < 4 {
		return APDU{}, &APDUError{Byte: len(b), Reason: fmt.Sprintf("request of %d bytes has no complete header", len(b))}
	}
	if b[0] != 0 {
		return APDU{}, &APDUError{Byte: 0, Reason: fmt.Sprintf("class 0x%02x, want 0x00", b[0])}
	}
	a := APDU{Ins: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0, len(body) == 1: // case 1, or case 2 short (Le only)
		return a, nil
	case body[0] != 0: // short Lc
		n := int(body[0])
		if len(body) != 1+n && len(body) != 2+n {
			return APDU{}, &APDUError{Byte: 4, Reason: fmt.Sprintf("short length %d does not match %d bytes after it", n, len(body)-1)}
		}
		a.Data = body[1 : 1+n]
		return a, nil
	case len(body) == 3: // case 2 extended: 0 Le1 Le2
		return a, nil
	case len(body) < 3:
		return APDU{}, &APDUError{Byte: 4 + len(body), Reason: "extended length cut short"}
	}
	n := int(binary.BigEndian.Uint16(body[1:]))
	if n == 0 {
		return APDU{}, &APDUError{Byte: 5, Reason: "extended Lc of 0"}
	}
	rest := len(body) - 3
	if rest != n && rest != n+2 {
		return APDU{}, &APDUError{Byte: 5, Reason: fmt.Sprintf("extended length %d does not match %d bytes after it", n, rest)}
	}
	a.Data = body[3 : 3+n]
	return a, nil
}
