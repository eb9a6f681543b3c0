package u2f

import (
	"encoding/hex"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CmdGetInfo is the authenticatorGetInfo command byte (CTAP 2.1 §6.4).
const CmdGetInfo = 0x04

// CTAP2Error is a non-zero CTAP2 status code (CTAP 2.1 §8.2).
type CTAP2Error byte

func (e CTAP2Error) Error() string {
	return fmt.Sprintf("ctap2: authenticator status 0x%02x", byte(e))
}

// AAGUID identifies an authenticator model.
type AAGUID [16]byte

// String formats the AAGUID as a UUID.
func (a AAGUID) String() string {
	h := hex.EncodeToString(a[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MarshalText makes JSON carry the UUID form.
func (a AAGUID) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// AuthenticatorInfo is the answer to authenticatorGetInfo (CTAP 2.1 §6.4),
// the fields a help desk shows.
type AuthenticatorInfo struct {
	Versions           []string        `json:"versions"`
	Extensions         []string        `json:"extensions,omitempty"`
	AAGUID             AAGUID          `json:"aaguid"`
	Options            map[string]bool `json:"options,omitempty"`
	MaxMsgSize         uint64          `json:"max_msg_size,omitempty"`
	PinUVAuthProtocols []uint64        `json:"pin_uv_auth_protocols,omitempty"`
	Transports         []string        `json:"transports,omitempty"`
	FirmwareVersion    uint64          `json:"firmware_version,omitempty"`
}

// getInfoWire is the CBOR map with its integer keys; keys not listed are
// ignored, as §6.4 asks of platforms.
type getInfoWire struct {
	Versions           []string        `cbor:"1,keyasint"`
	Extensions         []string        `cbor:"2,keyasint"`
	AAGUID             []byte          `cbor:"3,keyasint"`
	Options            map[string]bool `cbor:"4,keyasint"`
	MaxMsgSize         uint64          `cbor:"5,keyasint"`
	PinUVAuthProtocols []uint64        `cbor:"6,keyasint"`
	Transports         []string        `cbor:"9,keyasint"`
	FirmwareVersion    uint64          `cbor:"14,keyasint"`
}

// getInfoMode decodes with bounds: the answer comes from a device.
var getInfoMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  8,
		MaxArrayElements: 256,
		MaxMapPairs:      256,
		IndefLength:      cbor.IndefLengthForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// ParseGetInfo decodes the CBOR map of a getInfo answer (status byte
// removed). On error it returns nil.
func ParseGetInfo(b []byte) (*AuthenticatorInfo, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("ctap2 getInfo: answer of %d bytes exceeds %d", len(b), MaxMessage)
	}
	var w getInfoWire
	if err := getInfoMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("ctap2 getInfo: %w", err)
	}
	if len(w.Versions) == 0 {
		return nil, fmt.Errorf("ctap2 getInfo: key 0x01 (versions) missing or empty")
	}
	if len(w.AAGUID) != len(AAGUID{}) {
		return nil, fmt.Errorf("ctap2 getInfo: key 0x03 (aaguid) has %d bytes, want 16", len(w.AAGUID))
	}
	info := &AuthenticatorInfo{
		Versions:           w.Versions,
		Extensions:         w.Extensions,
		Options:            w.Options,
		MaxMsgSize:         w.MaxMsgSize,
		PinUVAuthProtocols: w.PinUVAuthProtocols,
		Transports:         w.Transports,
		FirmwareVersion:    w.FirmwareVersion,
	}
	copy(info.AAGUID[:], w.AAGUID)
	return info, nil
}
