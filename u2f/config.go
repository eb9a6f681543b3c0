package u2f

import (
	"bytes"

	"github.com/fxamacker/cbor/v2"
)

// ConfigSubcommand is a subCommand of authenticatorConfig (CTAP 2.1
// §6.11).
type ConfigSubcommand uint8

const (
	ConfigEnableEnterpriseAttestation ConfigSubcommand = 0x01
	ConfigToggleAlwaysUV              ConfigSubcommand = 0x02
	ConfigSetMinPINLength             ConfigSubcommand = 0x03
)

// SetMinPINLengthParams are setMinPINLength's subCommandParams (§6.11.4).
type SetMinPINLengthParams struct {
	NewMinPINLength   uint64   `cbor:"1,keyasint,omitempty"`
	MinPINLengthRPIDs []string `cbor:"2,keyasint,omitempty"`
	ForceChangePIN    bool     `cbor:"3,keyasint,omitempty"`
}

// ConfigRequest is authenticatorConfig's request.
type ConfigRequest struct {
	Subcommand     ConfigSubcommand
	Params         *SetMinPINLengthParams // setMinPINLength only
	Protocol       PINProtocol
	PinUVAuthParam []byte
	RawParams      []byte // Params as sent; the pinUvAuthParam covers them
}

type configRequestWire struct {
	Subcommand     uint8           `cbor:"1,keyasint"`
	Params         cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	Protocol       uint64          `cbor:"3,keyasint,omitempty"`
	PinUVAuthParam []byte          `cbor:"4,keyasint,omitempty"`
}

// NewConfigRequest encodes params once for the request and its
// pinUvAuthParam.
func NewConfigRequest(sub ConfigSubcommand, params *SetMinPINLengthParams) (*ConfigRequest, error) {
	r := &ConfigRequest{Subcommand: sub, Params: params}
	if params != nil {
		raw, err := encode(params)
		if err != nil {
			return nil, err
		}
		r.RawParams = raw
	}
	return r, nil
}

// AuthMessage is what the pinUvAuthParam covers: 32 bytes of 0xff ||
// 0x0d || subCommand || subCommandParams (§6.11.1).
func (r *ConfigRequest) AuthMessage() []byte {
	m := append(bytes.Repeat([]byte{0xff}, 32), CmdConfig, byte(r.Subcommand))
	return append(m, r.RawParams...)
}

// Marshal encodes the request, command byte not included.
func (r *ConfigRequest) Marshal() ([]byte, error) {
	return encode(configRequestWire{Subcommand: uint8(r.Subcommand), Params: r.RawParams, Protocol: uint64(r.Protocol), PinUVAuthParam: r.PinUVAuthParam})
}

// ParseConfigRequest is the authenticator's reading of a request; its
// errors wrap the CTAP2Error to answer.
func ParseConfigRequest(b []byte) (*ConfigRequest, error) {
	const what = "authenticatorConfig"
	var w configRequestWire
	if err := decodeRequest(what, b, &w); err != nil {
		return nil, err
	}
	if w.Subcommand == 0 {
		return nil, missing(what, 1, "subCommand")
	}
	r := &ConfigRequest{Subcommand: ConfigSubcommand(w.Subcommand), Protocol: PINProtocol(w.Protocol), PinUVAuthParam: w.PinUVAuthParam, RawParams: w.Params}
	if w.Params != nil && r.Subcommand == ConfigSetMinPINLength {
		r.Params = &SetMinPINLengthParams{}
		if err := decodeRequest(what+" params", w.Params, r.Params); err != nil {
			return nil, err
		}
	}
	return r, nil
}
