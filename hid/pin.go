package hid

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/u2f"
)

// ErrNoPINProtocol is returned when the key lists no PIN/UV auth protocol
// that keydesk speaks.
var ErrNoPINProtocol = errors.New("hid: the key offers no PIN protocol keydesk speaks (1 or 2)")

// ErrPINAlreadySet is returned by SetPIN for a key that has a PIN: it
// can only be changed.
var ErrPINAlreadySet = errors.New("hid: the key has a PIN already; change it instead")

// pinSession is one key agreement: the protocol and the shared secret,
// with the key's info as it was.
type pinSession struct {
	info     *u2f.AuthenticatorInfo
	proto    u2f.PINProtocol
	platform *ecdh.PublicKey
	secret   *u2f.SharedSecret
}

// agree runs getKeyAgreement and encapsulate (CTAP 2.1 §6.5.5.4) with
// the first protocol the key lists.
func (c *Client) agree(ctx context.Context) (*pinSession, error) {
	info, err := c.GetInfo(ctx)
	if err != nil {
		return nil, err
	}
	p := info.PINProtocol()
	if p == 0 {
		return nil, ErrNoPINProtocol
	}
	resp, err := c.clientPIN(ctx, "getKeyAgreement", &u2f.ClientPINRequest{Protocol: p, Subcommand: u2f.PINGetKeyAgreement})
	if err != nil {
		return nil, err
	}
	if resp.KeyAgreement == nil {
		return nil, fmt.Errorf("ctap2 getKeyAgreement: answer without key 0x01 (keyAgreement)")
	}
	pub, secret, err := p.Encapsulate(c.opt.Rand, resp.KeyAgreement)
	if err != nil {
		return nil, fmt.Errorf("ctap2 getKeyAgreement: %w", err)
	}
	return &pinSession{info: info, proto: p, platform: pub, secret: secret}, nil
}

func (c *Client) clientPIN(ctx context.Context, what string, r *u2f.ClientPINRequest) (*u2f.ClientPINResponse, error) {
	params, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := c.ctap2(ctx, what, u2f.CmdClientPIN, params)
	if err != nil {
		return nil, err
	}
	return u2f.ParseClientPINResponse(resp)
}

// PINRetries returns how many PIN tries the key has left before it
// blocks, and whether it wants a power cycle (unplug, plug in) before the
// next (CTAP 2.1 §6.5.5.2).
func (c *Client) PINRetries(ctx context.Context) (retries int, powerCycle bool, err error) {
	resp, err := c.clientPIN(ctx, "getPINRetries", &u2f.ClientPINRequest{Subcommand: u2f.PINGetRetries})
	if err != nil {
		return 0, false, err
	}
	if resp.PINRetries == nil {
		return 0, false, fmt.Errorf("ctap2 getPINRetries: answer without key 0x03 (pinRetries)")
	}
	return *resp.PINRetries, resp.PowerCycleState, nil
}

// SetPIN gives a key without a PIN its first (CTAP 2.1 §6.5.5.5). The PIN
// is checked against the key's minimum length first.
func (c *Client) SetPIN(ctx context.Context, pin string) error {
	s, err := c.agree(ctx)
	if err != nil {
		return err
	}
	if s.info.Options["clientPin"] {
		return ErrPINAlreadySet
	}
	if err := u2f.CheckPIN(pin, s.info.PINMinLength()); err != nil {
		return err
	}
	enc, err := s.secret.Encrypt(c.opt.Rand, u2f.PadPIN(pin))
	if err != nil {
		return err
	}
	_, err = c.clientPIN(ctx, "setPIN", &u2f.ClientPINRequest{Protocol: s.proto, Subcommand: u2f.PINSet,
		KeyAgreement: s.platform, NewPINEnc: enc, PinUVAuthParam: s.secret.Authenticate(enc)})
	return err
}

// ChangePIN replaces the PIN (CTAP 2.1 §6.5.5.6). A wrong current PIN
// costs a retry.
func (c *Client) ChangePIN(ctx context.Context, current, pin string) error {
	s, err := c.agree(ctx)
	if err != nil {
		return err
	}
	if err := u2f.CheckPIN(pin, s.info.PINMinLength()); err != nil {
		return err
	}
	newEnc, err := s.secret.Encrypt(c.opt.Rand, u2f.PadPIN(pin))
	if err != nil {
		return err
	}
	hashEnc, err := s.secret.Encrypt(c.opt.Rand, u2f.PINHash([]byte(current)))
	if err != nil {
		return err
	}
	_, err = c.clientPIN(ctx, "changePIN", &u2f.ClientPINRequest{Protocol: s.proto, Subcommand: u2f.PINChange,
		KeyAgreement: s.platform, NewPINEnc: newEnc, PINHashEnc: hashEnc,
		PinUVAuthParam: s.secret.Authenticate(append(append([]byte(nil), newEnc...), hashEnc...))})
	return err
}

// PINToken gets a pinUvAuthToken with getPinToken (CTAP 2.1 §6.5.5.7.1),
// the CTAP 2.0 way: the token may make credentials and assertions. A
// wrong PIN costs a retry; three in a row want a power cycle
// ([u2f.ErrPINAuthBlocked]).
func (c *Client) PINToken(ctx context.Context, pin string) (*u2f.PINToken, error) {
	return c.pinToken(ctx, pin, 0, "")
}

// PINTokenWithPermissions gets a token limited to perms, and to rpID if
// not empty, with getPinUvAuthTokenUsingPinWithPermissions (CTAP 2.1
// §6.5.5.7.2). A key without the pinUvAuthToken option (CTAP 2.0) is
// asked with getPinToken instead.
func (c *Client) PINTokenWithPermissions(ctx context.Context, pin string, perms u2f.Permission, rpID string) (*u2f.PINToken, error) {
	if perms == 0 {
		return nil, errors.New("ctap2 getPinUvAuthToken: no permission asked for")
	}
	return c.pinToken(ctx, pin, perms, rpID)
}

func (c *Client) pinToken(ctx context.Context, pin string, perms u2f.Permission, rpID string) (*u2f.PINToken, error) {
	s, err := c.agree(ctx)
	if err != nil {
		return nil, err
	}
	hashEnc, err := s.secret.Encrypt(c.opt.Rand, u2f.PINHash([]byte(pin)))
	if err != nil {
		return nil, err
	}
	r := &u2f.ClientPINRequest{Protocol: s.proto, Subcommand: u2f.PINGetToken, KeyAgreement: s.platform, PINHashEnc: hashEnc}
	what := "getPinToken"
	if perms != 0 && s.info.Options["pinUvAuthToken"] {
		r.Subcommand, r.Permissions, r.RPID = u2f.PINGetTokenUsingPINWithPerms, perms, rpID
		what = "getPinUvAuthTokenUsingPinWithPermissions"
	}
	resp, err := c.clientPIN(ctx, what, r)
	if err != nil {
		return nil, err
	}
	if resp.PINUVAuthToken == nil {
		return nil, fmt.Errorf("ctap2 %s: answer without key 0x02 (pinUvAuthToken)", what)
	}
	tok, err := s.secret.DecryptPINToken(resp.PINUVAuthToken)
	if err != nil {
		return nil, fmt.Errorf("ctap2 %s: %w", what, err)
	}
	tok.Permissions, tok.RPID = r.Permissions, r.RPID
	return tok, nil
}
