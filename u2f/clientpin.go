package u2f

import (
	"crypto/ecdh"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ClientPINSubcommand is a subCommand of authenticatorClientPIN (CTAP 2.1
// §6.5.5).
type ClientPINSubcommand uint8

const (
	PINGetRetries                ClientPINSubcommand = 0x01
	PINGetKeyAgreement           ClientPINSubcommand = 0x02
	PINSet                       ClientPINSubcommand = 0x03
	PINChange                    ClientPINSubcommand = 0x04
	PINGetToken                  ClientPINSubcommand = 0x05 // superseded by 0x09
	PINGetTokenUsingUVWithPerms  ClientPINSubcommand = 0x06
	PINGetUVRetries              ClientPINSubcommand = 0x07
	PINGetTokenUsingPINWithPerms ClientPINSubcommand = 0x09
)

// ClientPINRequest is authenticatorClientPIN's request; which fields a
// subcommand needs is in §6.5.5.
type ClientPINRequest struct {
	Protocol       PINProtocol
	Subcommand     ClientPINSubcommand
	KeyAgreement   *ecdh.PublicKey // the platform's key
	PinUVAuthParam []byte
	NewPINEnc      []byte
	PINHashEnc     []byte
	Permissions    Permission
	RPID           string
}

type clientPINRequestWire struct {
	Protocol       uint64          `cbor:"1,keyasint,omitempty"`
	Subcommand     uint8           `cbor:"2,keyasint"`
	KeyAgreement   cbor.RawMessage `cbor:"3,keyasint,omitempty"`
	PinUVAuthParam []byte          `cbor:"4,keyasint,omitempty"`
	NewPINEnc      []byte          `cbor:"5,keyasint,omitempty"`
	PINHashEnc     []byte          `cbor:"6,keyasint,omitempty"`
	Permissions    uint8           `cbor:"9,keyasint,omitempty"`
	RPID           string          `cbor:"10,keyasint,omitempty"`
}

// Marshal encodes the request, command byte not included.
func (r *ClientPINRequest) Marshal() ([]byte, error) {
	w := clientPINRequestWire{Protocol: uint64(r.Protocol), Subcommand: uint8(r.Subcommand), PinUVAuthParam: r.PinUVAuthParam,
		NewPINEnc: r.NewPINEnc, PINHashEnc: r.PINHashEnc, Permissions: uint8(r.Permissions), RPID: r.RPID}
	if r.KeyAgreement != nil {
		ka, err := encode(keyAgreementWire(r.KeyAgreement))
		if err != nil {
			return nil, err
		}
		w.KeyAgreement = ka
	}
	return encode(w)
}

// ParseClientPINRequest is the authenticator's reading of a request. It
// checks types, not which parameters a subcommand needs; its errors wrap
// the CTAP2Error to answer.
func ParseClientPINRequest(b []byte) (*ClientPINRequest, error) {
	const what = "clientPIN"
	var w clientPINRequestWire
	if err := decodeRequest(what, b, &w); err != nil {
		return nil, err
	}
	if w.Subcommand == 0 {
		return nil, missing(what, 2, "subCommand")
	}
	r := &ClientPINRequest{Protocol: PINProtocol(w.Protocol), Subcommand: ClientPINSubcommand(w.Subcommand),
		PinUVAuthParam: w.PinUVAuthParam, NewPINEnc: w.NewPINEnc, PINHashEnc: w.PINHashEnc,
		Permissions: Permission(w.Permissions), RPID: w.RPID}
	if w.KeyAgreement != nil {
		ka, err := parseKeyAgreement(w.KeyAgreement)
		if err != nil {
			// §6.5.5.5 step 4: a key that decapsulate cannot use.
			return nil, fmt.Errorf("ctap2 %s request: key 0x03: %v: %w", what, err, ErrInvalidParameter)
		}
		r.KeyAgreement = ka
	}
	return r, nil
}

// ClientPINResponse is authenticatorClientPIN's answer.
type ClientPINResponse struct {
	KeyAgreement    *ecdh.PublicKey // the authenticator's key (getKeyAgreement)
	PINUVAuthToken  []byte          // encrypted with the shared secret
	PINRetries      *int
	PowerCycleState bool // a power cycle is needed before the PIN is tried again
	UVRetries       *int
}

type clientPINResponseWire struct {
	KeyAgreement    cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	PINUVAuthToken  []byte          `cbor:"2,keyasint,omitempty"`
	PINRetries      *uint8          `cbor:"3,keyasint,omitempty"`
	PowerCycleState bool            `cbor:"4,keyasint,omitempty"`
	UVRetries       *uint8          `cbor:"5,keyasint,omitempty"`
}

// ParseClientPINResponse reads an answer (status byte removed). An empty
// answer, as to setPIN, is valid. On error it returns nil.
func ParseClientPINResponse(b []byte) (*ClientPINResponse, error) {
	const what = "clientPIN"
	if len(b) == 0 {
		return &ClientPINResponse{}, nil
	}
	var w clientPINResponseWire
	if err := decode(what, b, &w); err != nil {
		return nil, err
	}
	r := &ClientPINResponse{PINUVAuthToken: w.PINUVAuthToken, PowerCycleState: w.PowerCycleState}
	if w.PINRetries != nil {
		n := int(*w.PINRetries)
		r.PINRetries = &n
	}
	if w.UVRetries != nil {
		n := int(*w.UVRetries)
		r.UVRetries = &n
	}
	if w.KeyAgreement != nil {
		ka, err := parseKeyAgreement(w.KeyAgreement)
		if err != nil {
			return nil, fmt.Errorf("ctap2 %s: key 0x01: %w", what, err)
		}
		r.KeyAgreement = ka
	}
	return r, nil
}

// Marshal encodes the answer as an authenticator sends it, status byte
// not included; an answer with nothing in it is empty.
func (r *ClientPINResponse) Marshal() ([]byte, error) {
	w := clientPINResponseWire{PINUVAuthToken: r.PINUVAuthToken, PowerCycleState: r.PowerCycleState}
	if r.PINRetries != nil {
		n := uint8(*r.PINRetries)
		w.PINRetries = &n
	}
	if r.UVRetries != nil {
		n := uint8(*r.UVRetries)
		w.UVRetries = &n
	}
	if r.KeyAgreement != nil {
		ka, err := encode(keyAgreementWire(r.KeyAgreement))
		if err != nil {
			return nil, err
		}
		w.KeyAgreement = ka
	}
	if w.KeyAgreement == nil && w.PINUVAuthToken == nil && w.PINRetries == nil && !w.PowerCycleState && w.UVRetries == nil {
		return nil, nil
	}
	return encode(w)
}
