package hid

import (
	"context"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/u2f"
)

// ErrNoU2F is returned for a U2F command to a device whose INIT answer set
// CAPABILITY_NMSG: it speaks CTAP2 only.
var ErrNoU2F = errors.New("hid: device does not speak U2F (CTAPHID_MSG)")

// ErrTouchTimeout is returned when nobody touched the key in time.
var ErrTouchTimeout = errors.New("hid: nobody touched the key in time")

// msg sends one U2F request over CTAPHID_MSG and splits off the status
// word (U2F raw message formats §3.2).
func (c *Client) msg(ctx context.Context, a u2f.APDU) ([]byte, u2f.StatusError, error) {
	if !c.info.U2F() {
		return nil, 0, ErrNoU2F
	}
	resp, err := c.transact(ctx, request{cid: c.info.Channel, cmd: CmdMsg, data: a.Encode()})
	if err != nil {
		return nil, 0, err
	}
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("u2f: answer of %d bytes has no status word", len(resp))
	}
	n := len(resp) - 2
	return resp[:n], u2f.StatusError(uint16(resp[n])<<8 | uint16(resp[n+1])), nil
}

// U2FVersion asks the key for its U2F protocol version; keys answer
// "U2F_V2" (§6.1).
func (c *Client) U2FVersion(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, sw, err := c.msg(ctx, u2f.APDU{Ins: u2f.InsVersion})
	if err != nil {
		return "", err
	}
	if sw != u2f.SWNoError {
		return "", fmt.Errorf("u2f: VERSION: %w", sw)
	}
	return string(data), nil
}

// Register asks the key for a new credential (§4). It repeats the request
// while the key answers "user presence required", calling OnTouch once.
func (c *Client) Register(ctx context.Context, challengeParam, appParam [u2f.ParamSize]byte) (*u2f.Registration, error) {
	data := append(append([]byte(nil), challengeParam[:]...), appParam[:]...)
	resp, err := c.withPresence(ctx, u2f.APDU{Ins: u2f.InsRegister, Data: data})
	if err != nil {
		return nil, fmt.Errorf("u2f: REGISTER: %w", err)
	}
	return u2f.ParseRegistration(resp)
}

// Authenticate asks the key to sign with the credential of keyHandle,
// enforcing user presence (control byte 0x03, §5). It repeats the request
// while the key waits for a touch, calling OnTouch once. A key that does
// not know the key handle answers [SWWrongData].
func (c *Client) Authenticate(ctx context.Context, challengeParam, appParam [u2f.ParamSize]byte, keyHandle []byte) (*u2f.Authentication, error) {
	data, err := authData(challengeParam, appParam, keyHandle)
	if err != nil {
		return nil, err
	}
	resp, err := c.withPresence(ctx, u2f.APDU{Ins: u2f.InsAuthenticate, P1: u2f.AuthEnforcePresence, Data: data})
	if err != nil {
		return nil, fmt.Errorf("u2f: AUTHENTICATE: %w", err)
	}
	return u2f.ParseAuthentication(resp)
}

// CheckKeyHandle asks, without a touch, whether the key made keyHandle for
// appParam (control byte 0x07, §5): a key answers "user presence required"
// if it did and "wrong data" if not.
func (c *Client) CheckKeyHandle(ctx context.Context, appParam [u2f.ParamSize]byte, keyHandle []byte) (bool, error) {
	data, err := authData([u2f.ParamSize]byte{}, appParam, keyHandle)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, sw, err := c.msg(ctx, u2f.APDU{Ins: u2f.InsAuthenticate, P1: u2f.AuthCheckOnly, Data: data})
	switch {
	case err != nil:
		return false, err
	case sw == u2f.SWConditionsNotSatisfied:
		return true, nil
	case sw == u2f.SWWrongData:
		return false, nil
	}
	return false, fmt.Errorf("u2f: AUTHENTICATE check-only: %w", sw)
}

func authData(challengeParam, appParam [u2f.ParamSize]byte, keyHandle []byte) ([]byte, error) {
	if len(keyHandle) == 0 || len(keyHandle) > 255 {
		return nil, fmt.Errorf("u2f: key handle of %d bytes, want 1 to 255", len(keyHandle))
	}
	d := make([]byte, 0, 2*u2f.ParamSize+1+len(keyHandle))
	d = append(d, challengeParam[:]...)
	d = append(d, appParam[:]...)
	d = append(d, byte(len(keyHandle)))
	return append(d, keyHandle...), nil
}

// withPresence sends a request until the key stops asking for a touch.
// A U2F key answers 0x6985 until it has been touched, and the host is
// expected to poll (U2F raw message formats §4, §5).
func (c *Client) withPresence(ctx context.Context, a u2f.APDU) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touched = false
	start := c.opt.Clock.Now()
	for {
		data, sw, err := c.msg(ctx, a)
		if err != nil {
			return nil, err
		}
		switch sw {
		case u2f.SWNoError:
			return data, nil
		case u2f.SWConditionsNotSatisfied:
		default:
			return nil, sw
		}
		c.touch()
		if waited := c.opt.Clock.Now().Sub(start); waited >= c.opt.TouchTimeout {
			return nil, fmt.Errorf("%w (waited %v)", ErrTouchTimeout, waited)
		}
		if err := c.sleep(ctx, c.opt.PollInterval); err != nil {
			return nil, fmt.Errorf("waiting for a touch: %w", err)
		}
	}
}
