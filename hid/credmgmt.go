package hid

import (
	"context"
	"errors"
	"fmt"

	"github.com/keydesk/keydesk/u2f"
)

// ErrNoCredentialManagement is returned for a key that lists neither
// credMgmt nor credentialMgmtPreview.
var ErrNoCredentialManagement = errors.New("hid: the key cannot list or delete its credentials")

// maxEnumerated bounds what an enumeration reads, whatever the key says
// its total is.
const maxEnumerated = 1000

// credMgmt sends one credential management subcommand (CTAP 2.1 §6.8),
// over 0x0A or, on keys that have only the prototype, 0x41. tok (with
// the cm permission) authenticates every subcommand but the GetNext ones.
func (c *Client) credMgmt(ctx context.Context, cmd byte, what string, sub u2f.CredMgmtSubcommand, p *u2f.CredMgmtParams, tok *u2f.PINToken) (*u2f.CredentialManagementResponse, error) {
	r, err := u2f.NewCredentialManagementRequest(sub, p)
	if err != nil {
		return nil, err
	}
	if tok != nil {
		r.Protocol, r.PinUVAuthParam = tok.Protocol, tok.Param(r.AuthMessage())
	}
	params, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := c.ctap2(ctx, what, cmd, params)
	if err != nil {
		return nil, err
	}
	return u2f.ParseCredentialManagementResponse(resp)
}

func (c *Client) credMgmtCommand(ctx context.Context) (byte, error) {
	info, err := c.GetInfo(ctx)
	if err != nil {
		return 0, err
	}
	cmd := info.CredentialManagementCommand()
	if cmd == 0 {
		return 0, ErrNoCredentialManagement
	}
	return cmd, nil
}

// CredsMetadata returns how many discoverable credentials the key holds
// and about how many more it can take (getCredsMetadata, §6.8.2).
func (c *Client) CredsMetadata(ctx context.Context, tok *u2f.PINToken) (existing, remaining int, err error) {
	cmd, err := c.credMgmtCommand(ctx)
	if err != nil {
		return 0, 0, err
	}
	r, err := c.credMgmt(ctx, cmd, "getCredsMetadata", u2f.CredMgmtGetCredsMetadata, nil, tok)
	if err != nil {
		return 0, 0, err
	}
	if r.ExistingResidentCredentialsCount == nil || r.MaxPossibleRemainingResidentCredentialsCount == nil {
		return 0, 0, fmt.Errorf("ctap2 getCredsMetadata: answer without keys 0x01 and 0x02")
	}
	return int(min(*r.ExistingResidentCredentialsCount, maxEnumerated)), int(min(*r.MaxPossibleRemainingResidentCredentialsCount, maxEnumerated)), nil
}

// ResidentRPs lists the sites the key holds discoverable credentials for
// (enumerateRPsBegin, then enumerateRPsGetNextRP, §6.8.3). A key with
// none answers [u2f.ErrNoCredentials]; ResidentRPs returns an empty list
// then.
func (c *Client) ResidentRPs(ctx context.Context, tok *u2f.PINToken) ([]u2f.ResidentRP, error) {
	cmd, err := c.credMgmtCommand(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.credMgmt(ctx, cmd, "enumerateRPsBegin", u2f.CredMgmtEnumerateRPsBegin, nil, tok)
	if errors.Is(err, u2f.ErrNoCredentials) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	total := min(int(min(r.TotalRPs, maxEnumerated)), maxEnumerated)
	var out []u2f.ResidentRP
	for i := 0; ; i++ {
		if r.RP == nil || len(r.RPIDHash) != 32 {
			return nil, fmt.Errorf("ctap2 enumerateRPs: answer %d without keys 0x03 and 0x04", i+1)
		}
		out = append(out, u2f.ResidentRP{RP: *r.RP, RPIDHash: r.RPIDHash})
		if len(out) >= total {
			return out, nil
		}
		if r, err = c.credMgmt(ctx, cmd, "enumerateRPsGetNextRP", u2f.CredMgmtEnumerateRPsGetNext, nil, nil); err != nil {
			return nil, err
		}
	}
}

// ResidentCredentials lists the discoverable credentials of one site
// (enumerateCredentialsBegin, then enumerateCredentialsGetNextCredential,
// §6.8.4); an empty list if there are none.
func (c *Client) ResidentCredentials(ctx context.Context, tok *u2f.PINToken, rpIDHash []byte) ([]u2f.ResidentCredential, error) {
	if len(rpIDHash) != 32 {
		return nil, fmt.Errorf("ctap2 enumerateCredentials: rpIDHash of %d bytes, want 32", len(rpIDHash))
	}
	cmd, err := c.credMgmtCommand(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.credMgmt(ctx, cmd, "enumerateCredentialsBegin", u2f.CredMgmtEnumerateCredsBegin, &u2f.CredMgmtParams{RPIDHash: rpIDHash}, tok)
	if errors.Is(err, u2f.ErrNoCredentials) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	total := int(min(r.TotalCredentials, maxEnumerated))
	var out []u2f.ResidentCredential
	for i := 0; ; i++ {
		if r.User == nil || r.CredentialID == nil || r.PublicKey == nil {
			return nil, fmt.Errorf("ctap2 enumerateCredentials: answer %d without keys 0x06, 0x07 and 0x08", i+1)
		}
		out = append(out, u2f.ResidentCredential{User: *r.User, ID: *r.CredentialID, PublicKey: r.PublicKey, CredProtect: r.CredProtect})
		if len(out) >= total {
			return out, nil
		}
		if r, err = c.credMgmt(ctx, cmd, "enumerateCredentialsGetNextCredential", u2f.CredMgmtEnumerateCredsGetNext, nil, nil); err != nil {
			return nil, err
		}
	}
}

// DeleteCredential removes a discoverable credential (§6.8.5).
func (c *Client) DeleteCredential(ctx context.Context, tok *u2f.PINToken, credentialID []byte) error {
	cmd, err := c.credMgmtCommand(ctx)
	if err != nil {
		return err
	}
	_, err = c.credMgmt(ctx, cmd, "deleteCredential", u2f.CredMgmtDeleteCredential,
		&u2f.CredMgmtParams{CredentialID: &u2f.CredentialDescriptor{Type: u2f.CredentialType, ID: credentialID}}, tok)
	return err
}
