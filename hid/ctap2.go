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

// ctap2 sends one CTAP2 command over CTAPHID_CBOR (CTAP 2.1 §11.2.9.1.2)
// and returns the CBOR of a successful answer. A non-zero status comes
// back as an error wrapping the u2f.CTAP2Error, so callers can test
// errors.Is(err, u2f.ErrPINInvalid). A KEEPALIVE asking for a touch calls
// OnTouch once; cancelling ctx sends CANCEL.
func (c *Client) ctap2(ctx context.Context, what string, cmd byte, params []byte) ([]byte, error) {
	if !c.info.CTAP2() {
		return nil, ErrNoCTAP2
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touched = false
	resp, err := c.transact(ctx, request{cid: c.info.Channel, cmd: CmdCBOR, data: append([]byte{cmd}, params...)})
	if err != nil {
		return nil, fmt.Errorf("ctap2 %s: %w", what, err)
	}
	if len(resp) == 0 {
		return nil, fmt.Errorf("ctap2 %s: empty answer", what)
	}
	if resp[0] != 0 {
		return nil, fmt.Errorf("ctap2 %s: %w", what, u2f.CTAP2Error(resp[0]))
	}
	return resp[1:], nil
}

// GetInfo asks a CTAP2 authenticator what it is and what it supports.
func (c *Client) GetInfo(ctx context.Context) (*u2f.AuthenticatorInfo, error) {
	resp, err := c.ctap2(ctx, "getInfo", u2f.CmdGetInfo, nil)
	if err != nil {
		return nil, err
	}
	return u2f.ParseGetInfo(resp)
}

// MakeCredential asks the key for a new credential (CTAP 2.1 §6.1); the
// key waits for a touch. The request is not changed: the client sends a
// copy in which
//   - PubKeyCredParams, when nil, become ES256 and, if the key lists it,
//     EdDSA;
//   - the credProtect extension is dropped when the key does not list it;
//   - tok, when not nil, makes the pinUvAuthParam over the clientDataHash.
//
// The "uv" option is for keys with built-in user verification; with a
// PIN, pass its token instead.
func (c *Client) MakeCredential(ctx context.Context, req *u2f.MakeCredentialRequest, tok *u2f.PINToken) (*u2f.Attestation, error) {
	r := *req
	if r.PubKeyCredParams == nil || r.Extensions != nil && r.Extensions.CredProtect != 0 {
		info, err := c.GetInfo(ctx)
		if err != nil {
			return nil, err
		}
		if r.PubKeyCredParams == nil {
			r.PubKeyCredParams = []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.ES256}}
			if info.HasAlgorithm(u2f.EdDSA) {
				r.PubKeyCredParams = append(r.PubKeyCredParams, u2f.CredentialParameter{Type: u2f.CredentialType, Alg: u2f.EdDSA})
			}
		}
		if r.Extensions != nil && r.Extensions.CredProtect != 0 && !info.HasExtension(u2f.ExtCredProtect) {
			ext := *r.Extensions
			ext.CredProtect = 0
			r.Extensions = &ext
			if ext == (u2f.MakeCredentialExtensions{}) {
				r.Extensions = nil
			}
		}
	}
	if tok != nil {
		r.PinUVAuthParam, r.PinUVAuthProtocol = tok.Param(r.ClientDataHash), tok.Protocol
	}
	params, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := c.ctap2(ctx, "makeCredential", u2f.CmdMakeCredential, params)
	if err != nil {
		return nil, err
	}
	return u2f.ParseMakeCredentialResponse(resp)
}

// GetAssertion asks the key to sign with a credential of the site (CTAP
// 2.1 §6.2): one of the allowList, or, with none, a discoverable one. The
// key waits for a touch unless the "up" option is false. tok, when not
// nil, makes the pinUvAuthParam. When the answer's NumberOfCredentials
// is above 1, GetNextAssertion fetches the others.
func (c *Client) GetAssertion(ctx context.Context, req *u2f.GetAssertionRequest, tok *u2f.PINToken) (*u2f.Assertion, error) {
	r := *req
	if tok != nil {
		r.PinUVAuthParam, r.PinUVAuthProtocol = tok.Param(r.ClientDataHash), tok.Protocol
	}
	params, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := c.ctap2(ctx, "getAssertion", u2f.CmdGetAssertion, params)
	if err != nil {
		return nil, err
	}
	a, err := u2f.ParseGetAssertionResponse(resp)
	if err != nil {
		return nil, err
	}
	if a.Credential == nil && len(r.AllowList) == 1 {
		// §6.2.2: the key may leave out the one credential it was given.
		d := r.AllowList[0]
		a.Credential = &d
	}
	return a, nil
}

// GetNextAssertion fetches the next assertion of the last GetAssertion
// (CTAP 2.1 §6.3).
func (c *Client) GetNextAssertion(ctx context.Context) (*u2f.Assertion, error) {
	resp, err := c.ctap2(ctx, "getNextAssertion", u2f.CmdGetNextAssertion, nil)
	if err != nil {
		return nil, err
	}
	return u2f.ParseGetAssertionResponse(resp)
}

// Reset erases every credential and the PIN (CTAP 2.1 §6.6). Keys take
// it only within seconds of being plugged in ([u2f.ErrNotAllowed]
// otherwise) and with a touch.
func (c *Client) Reset(ctx context.Context) error {
	_, err := c.ctap2(ctx, "reset", u2f.CmdReset, nil)
	return err
}

// Selection waits until the user touches the key (CTAP 2.1 §6.9): the
// way to tell which of several keys is meant.
func (c *Client) Selection(ctx context.Context) error {
	_, err := c.ctap2(ctx, "selection", u2f.CmdSelection, nil)
	return err
}

// ToggleAlwaysUV switches the key's alwaysUv option (CTAP 2.1 §6.11.2).
// tok needs the acfg permission; nil is for a key without a PIN.
func (c *Client) ToggleAlwaysUV(ctx context.Context, tok *u2f.PINToken) error {
	return c.config(ctx, "toggleAlwaysUv", u2f.ConfigToggleAlwaysUV, nil, tok)
}

// SetMinPINLength raises the key's minimum PIN length (CTAP 2.1
// §6.11.4); rpIDs may read it at registration, and forceChange makes the
// user change the PIN first. tok needs the acfg permission; nil is for a
// key without a PIN.
func (c *Client) SetMinPINLength(ctx context.Context, tok *u2f.PINToken, length int, rpIDs []string, forceChange bool) error {
	if length < 0 {
		return fmt.Errorf("ctap2 setMinPINLength: length %d", length)
	}
	return c.config(ctx, "setMinPINLength", u2f.ConfigSetMinPINLength,
		&u2f.SetMinPINLengthParams{NewMinPINLength: uint64(length), MinPINLengthRPIDs: rpIDs, ForceChangePIN: forceChange}, tok)
}

func (c *Client) config(ctx context.Context, what string, sub u2f.ConfigSubcommand, p *u2f.SetMinPINLengthParams, tok *u2f.PINToken) error {
	r, err := u2f.NewConfigRequest(sub, p)
	if err != nil {
		return err
	}
	if tok != nil {
		r.Protocol, r.PinUVAuthParam = tok.Protocol, tok.Param(r.AuthMessage())
	}
	params, err := r.Marshal()
	if err != nil {
		return err
	}
	_, err = c.ctap2(ctx, what, u2f.CmdConfig, params)
	return err
}
