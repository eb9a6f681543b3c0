package hid

import (
	"errors"
	"fmt"
	"time"
)

// ErrorCode is a CTAPHID_ERROR code sent by a device (CTAP 2.1 §11.2.9.1.6).
// Each value is itself an error, so callers can test
// errors.Is(err, hid.ErrChannelBusy).
type ErrorCode byte

// CTAPHID error codes.
const (
	ErrInvalidCmd     ErrorCode = 0x01
	ErrInvalidPar     ErrorCode = 0x02
	ErrInvalidLen     ErrorCode = 0x03
	ErrInvalidSeq     ErrorCode = 0x04
	ErrMsgTimeout     ErrorCode = 0x05
	ErrChannelBusy    ErrorCode = 0x06
	ErrLockRequired   ErrorCode = 0x0a
	ErrInvalidChannel ErrorCode = 0x0b
	ErrOther          ErrorCode = 0x7f
)

func (e ErrorCode) Error() string {
	var s string
	switch e {
	case ErrInvalidCmd:
		s = "invalid command"
	case ErrInvalidPar:
		s = "invalid parameter"
	case ErrInvalidLen:
		s = "invalid length"
	case ErrInvalidSeq:
		s = "invalid sequence"
	case ErrMsgTimeout:
		s = "message timed out"
	case ErrChannelBusy:
		s = "channel busy"
	case ErrLockRequired:
		s = "lock required"
	case ErrInvalidChannel:
		s = "invalid channel"
	case ErrOther:
		s = "unspecified error"
	default:
		s = "unknown error"
	}
	return fmt.Sprintf("device error 0x%02x (%s)", byte(e), s)
}

// ErrTimeout is matched (errors.Is) by every [TimeoutError].
var ErrTimeout = errors.New("hid: device did not answer in time")

// TimeoutError is returned when a device stays silent on our channel for
// the whole timeout of an exchange.
type TimeoutError struct {
	Command Command
	After   time.Duration
	Ignored int    // packets ignored meanwhile (other channels, wrong nonce)
	Note    string // why some were ignored, if that may explain the silence
}

func (e *TimeoutError) Error() string {
	s := fmt.Sprintf("hid: no answer to %v within %v", e.Command, e.After)
	if e.Ignored > 0 {
		s += fmt.Sprintf("; ignored %d packets", e.Ignored)
		if e.Note != "" {
			s += " (" + e.Note + ")"
		}
	}
	return s
}

func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }
