package hid

import (
	"context"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/u2f"
)

// ErrNoCTAP2 is returned for a CTAP2 command to a device whose INIT answer
// did not set CAPABILITY_CBOR.
var ErrNoCTAP2 = errors.New("hid: device does not speak CTAP2 (CTAPHID_CBOR)")

// GetInfo asks a CTAP2 authenticator what it is and what it supports.
func (c *Client) GetInfo(ctx context.Context) (*u2f.AuthenticatorInfo, error) {
	if !c.info.CTAP2() {
		return nil, ErrNoCTAP2
	}
	resp, err := c.Transact(ctx, CmdCBOR, []byte{u2f.CmdGetInfo})
	if err != nil {
		return nil, err
	}
	if len(resp) == 0 {
		return nil, fmt.Errorf("ctap2 getInfo: empty answer")
	}
	if resp[0] != 0 {
		return nil, fmt.Errorf("ctap2 getInfo: %w", u2f.CTAP2Error(resp[0]))
	}
	return u2f.ParseGetInfo(resp[1:])
}
