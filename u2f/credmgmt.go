package u2f

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CredMgmtSubcommand is a subCommand of authenticatorCredentialManagement
// (CTAP 2.1 §6.8).
type CredMgmtSubcommand uint8

const (
	CredMgmtGetCredsMetadata      CredMgmtSubcommand = 0x01
	CredMgmtEnumerateRPsBegin     CredMgmtSubcommand = 0x02
	CredMgmtEnumerateRPsGetNext   CredMgmtSubcommand = 0x03
	CredMgmtEnumerateCredsBegin   CredMgmtSubcommand = 0x04
	CredMgmtEnumerateCredsGetNext CredMgmtSubcommand = 0x05
	CredMgmtDeleteCredential      CredMgmtSubcommand = 0x06
	CredMgmtUpdateUserInformation CredMgmtSubcommand = 0x07
)

// CredMgmtParams are the subCommandParams (§6.8).
type CredMgmtParams struct {
	RPIDHash     []byte                `cbor:"1,keyasint,omitempty"`
	CredentialID *CredentialDescriptor `cbor:"2,keyasint,omitempty"`
	User         *User                 `cbor:"3,keyasint,omitempty"`
}

// CredentialManagementRequest is authenticatorCredentialManagement's
// request.
type CredentialManagementRequest struct {
	Subcommand     CredMgmtSubcommand
	Params         *CredMgmtParams
	Protocol       PINProtocol
	PinUVAuthParam []byte
	// RawParams is Params as sent; the pinUvAuthParam covers these bytes.
	RawParams []byte
}

type credMgmtRequestWire struct {
	Subcommand     uint8           `cbor:"1,keyasint"`
	Params         cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	Protocol       uint64          `cbor:"3,keyasint,omitempty"`
	PinUVAuthParam []byte          `cbor:"4,keyasint,omitempty"`
}

// NewCredentialManagementRequest encodes params once, so that the
// pinUvAuthParam and the request cover the same bytes.
func NewCredentialManagementRequest(sub CredMgmtSubcommand, params *CredMgmtParams) (*CredentialManagementRequest, error) {
	r := &CredentialManagementRequest{Subcommand: sub, Params: params}
	if params != nil {
		raw, err := encode(params)
		if err != nil {
			return nil, err
		}
		r.RawParams = raw
	}
	return r, nil
}

// AuthMessage is what the pinUvAuthParam covers: subCommand ||
// subCommandParams (§6.8.2 and following).
func (r *CredentialManagementRequest) AuthMessage() []byte {
	return append([]byte{byte(r.Subcommand)}, r.RawParams...)
}

// Marshal encodes the request, command byte not included.
func (r *CredentialManagementRequest) Marshal() ([]byte, error) {
	return encode(credMgmtRequestWire{Subcommand: uint8(r.Subcommand), Params: r.RawParams, Protocol: uint64(r.Protocol), PinUVAuthParam: r.PinUVAuthParam})
}

// ParseCredentialManagementRequest is the authenticator's reading of a
// request; its errors wrap the CTAP2Error to answer.
func ParseCredentialManagementRequest(b []byte) (*CredentialManagementRequest, error) {
	const what = "credentialManagement"
	var w credMgmtRequestWire
	if err := decodeRequest(what, b, &w); err != nil {
		return nil, err
	}
	if w.Subcommand == 0 {
		return nil, missing(what, 1, "subCommand")
	}
	r := &CredentialManagementRequest{Subcommand: CredMgmtSubcommand(w.Subcommand), Protocol: PINProtocol(w.Protocol),
		PinUVAuthParam: w.PinUVAuthParam, RawParams: w.Params}
	if w.Params != nil {
		r.Params = &CredMgmtParams{}
		if err := decodeRequest(what+" params", w.Params, r.Params); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// CredentialManagementResponse is the answer of any subcommand; each
// fills the fields §6.8 names for it.
type CredentialManagementResponse struct {
	ExistingResidentCredentialsCount             *uint64
	MaxPossibleRemainingResidentCredentialsCount *uint64
	RP                                           *RelyingParty
	RPIDHash                                     []byte
	TotalRPs                                     uint64
	User                                         *User
	CredentialID                                 *CredentialDescriptor
	PublicKey                                    *COSEKey
	TotalCredentials                             uint64
	CredProtect                                  CredProtect
}

type credMgmtResponseWire struct {
	Existing     *uint64               `cbor:"1,keyasint,omitempty"`
	Remaining    *uint64               `cbor:"2,keyasint,omitempty"`
	RP           *RelyingParty         `cbor:"3,keyasint,omitempty"`
	RPIDHash     []byte                `cbor:"4,keyasint,omitempty"`
	TotalRPs     uint64                `cbor:"5,keyasint,omitempty"`
	User         *User                 `cbor:"6,keyasint,omitempty"`
	CredentialID *CredentialDescriptor `cbor:"7,keyasint,omitempty"`
	PublicKey    cbor.RawMessage       `cbor:"8,keyasint,omitempty"`
	TotalCreds   uint64                `cbor:"9,keyasint,omitempty"`
	CredProtect  uint8                 `cbor:"10,keyasint,omitempty"`
	LargeBlobKey []byte                `cbor:"11,keyasint,omitempty"`
}

// ParseCredentialManagementResponse reads an answer (status byte
// removed); an empty answer (deleteCredential's) is valid. A credential
// key of a type keydesk does not handle is kept raw, Public nil. On error
// it returns nil.
func ParseCredentialManagementResponse(b []byte) (*CredentialManagementResponse, error) {
	const what = "credentialManagement"
	if len(b) == 0 {
		return &CredentialManagementResponse{}, nil
	}
	var w credMgmtResponseWire
	if err := decode(what, b, &w); err != nil {
		return nil, err
	}
	switch {
	case w.RPIDHash != nil && len(w.RPIDHash) != 32:
		return nil, fmt.Errorf("ctap2 %s: key 0x04 (rpIDHash) of %d bytes, want 32", what, len(w.RPIDHash))
	case w.CredProtect > 3:
		return nil, fmt.Errorf("ctap2 %s: key 0x0a (credProtect) %d, want 1 to 3", what, w.CredProtect)
	case w.CredentialID != nil && (len(w.CredentialID.ID) == 0 || len(w.CredentialID.ID) > MaxCredentialIDLength):
		return nil, fmt.Errorf("ctap2 %s: key 0x07 (credentialID) of %d bytes", what, len(w.CredentialID.ID))
	}
	r := &CredentialManagementResponse{ExistingResidentCredentialsCount: w.Existing, MaxPossibleRemainingResidentCredentialsCount: w.Remaining,
		RP: w.RP, RPIDHash: w.RPIDHash, TotalRPs: w.TotalRPs, User: w.User, CredentialID: w.CredentialID,
		TotalCredentials: w.TotalCreds, CredProtect: CredProtect(w.CredProtect)}
	if w.PublicKey != nil {
		k, err := ParseCOSEKey(w.PublicKey)
		switch {
		case errors.Is(err, ErrUnsupportedKey):
			k = &COSEKey{Raw: append([]byte(nil), w.PublicKey...)}
		case err != nil:
			return nil, fmt.Errorf("ctap2 %s: key 0x08: %w", what, err)
		}
		r.PublicKey = k
	}
	return r, nil
}

// Marshal encodes the answer as an authenticator sends it, status byte
// not included.
func (r *CredentialManagementResponse) Marshal() ([]byte, error) {
	w := credMgmtResponseWire{Existing: r.ExistingResidentCredentialsCount, Remaining: r.MaxPossibleRemainingResidentCredentialsCount,
		RP: r.RP, RPIDHash: r.RPIDHash, TotalRPs: r.TotalRPs, User: r.User, CredentialID: r.CredentialID,
		TotalCreds: r.TotalCredentials, CredProtect: uint8(r.CredProtect)}
	if r.PublicKey != nil {
		w.PublicKey = r.PublicKey.Raw
	}
	b, err := encode(w)
	if len(b) == 1 && b[0] == 0xa0 {
		return nil, err // nothing to say: an empty answer
	}
	return b, err
}

// ResidentRP is a relying party with discoverable credentials on a key.
type ResidentRP struct {
	RP       RelyingParty `json:"rp"`
	RPIDHash []byte       `json:"rp_id_hash"`
}

// ResidentCredential is a discoverable credential on a key.
type ResidentCredential struct {
	User        User                 `json:"user"`
	ID          CredentialDescriptor `json:"credential"`
	PublicKey   *COSEKey             `json:"-"`
	CredProtect CredProtect          `json:"cred_protect,omitempty"`
}
