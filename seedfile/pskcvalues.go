package seedfile

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// The values of a KeyPackage: integers, dates and base64.

// setValue files one integer Data value. Counter is xs:unsignedLong and
// kept whole, so that fob.Token.Validate can say what is wrong with a
// counter past fob.MaxCounter rather than this reader calling it negative.
func setValue(t *fob.Token, i int, raw []byte, encrypted bool) error {
	switch i {
	case 1:
		n, err := uintValue(raw, encrypted)
		if err != nil {
			return err
		}
		t.Counter = n
	case 2:
		n, err := intValue(raw, encrypted)
		if err != nil {
			return err
		}
		t.T0 = n
	case 3:
		n, err := uintValue(raw, encrypted)
		if err != nil {
			return err
		}
		if n < 1 || n > 1<<31-1 {
			return fmt.Errorf("%d is not a positive number of seconds", n)
		}
		t.Period = int(n)
	case 4:
		n, err := intValue(raw, encrypted)
		if err != nil {
			return err
		}
		if n < -1<<31 || n > 1<<31-1 {
			return fmt.Errorf("%d out of range", n)
		}
		t.Drift = int(n)
	}
	return nil
}

// uintValue reads a non-negative integer Data value: decimal text when
// plain, a big-endian unsigned integer of up to 8 bytes when encrypted (as
// python-pskc writes it: 200 is the single byte 0xc8).
func uintValue(b []byte, binaryForm bool) (uint64, error) {
	if !binaryForm {
		s := strings.TrimSpace(string(b))
		u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number from 0 to %d", truncate(s, 24), uint64(1<<64-1))
		}
		return u, nil
	}
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("encrypted integer of %d bytes (want 1 to 8)", len(b))
	}
	var buf [8]byte
	copy(buf[8-len(b):], b)
	return binary.BigEndian.Uint64(buf[:]), nil
}

// intValue reads a signed integer Data value: decimal text when plain, a
// big-endian two's complement integer of up to 8 bytes when encrypted.
func intValue(b []byte, binaryForm bool) (int64, error) {
	if !binaryForm {
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d", truncate(s, 24), int64(-1<<63), int64(1<<63-1))
		}
		return n, nil
	}
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("encrypted integer of %d bytes (want 1 to 8)", len(b))
	}
	var buf [8]byte
	if b[0]&0x80 != 0 {
		buf = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	copy(buf[8-len(b):], b)
	return int64(binary.BigEndian.Uint64(buf[:])), nil
}

var dateNames = [4]string{"DeviceInfo StartDate", "DeviceInfo ExpiryDate", "Policy StartDate", "Policy ExpiryDate"}

// buildDates reads when the key may be used. RFC 6030 §5: the key's Policy
// StartDate and ExpiryDate bound its use; §4.3.1: DeviceInfo's bound the
// device's, and so the key's too. The token gets the narrower of the two.
func (p *pskcReader) buildDates(t *fob.Token) error {
	for i, s := range p.kp.dates {
		if s == "" {
			continue
		}
		d, err := parseDateTime(s)
		if err != nil {
			return fmt.Errorf("%s %q: %v", dateNames[i], truncate(s, 40), err)
		}
		if i%2 == 0 && d.After(t.NotBefore) {
			t.NotBefore = d
		}
		if i%2 == 1 && (t.NotAfter.IsZero() || d.Before(t.NotAfter)) {
			t.NotAfter = d
		}
	}
	return nil
}

// parseDateTime reads an xs:dateTime (XML Schema part 2 §3.2.7). RFC 6030
// wants PSKC's dates "in UTC form, with no time zone component", so one
// without a zone is UTC; one with a zone (python-pskc writes +02:00) is
// taken at its word. Years before 1 or past 9999 are refused.
func parseDateTime(s string) (time.Time, error) {
	if d, err := time.Parse(time.RFC3339, s); err == nil {
		return d.UTC(), nil
	}
	if d, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return d, nil
	}
	return time.Time{}, errors.New("not a date and time (want the form 2006-01-02T15:04:05Z)")
}

// decodeBase64 decodes xs:base64Binary, which may hold white space
// anywhere (XML Schema part 2 §3.2.16).
func decodeBase64(b []byte) ([]byte, error) {
	if bytes.ContainsAny(b, " \t\r\n") {
		b = bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, b)
	}
	return base64.StdEncoding.AppendDecode(nil, b)
}
