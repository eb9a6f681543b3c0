package u2f

import (
	"fmt"
	"slices"
)

// Protocol versions an authenticator lists in getInfo (CTAP 2.1 §6.4).
const (
	VersionU2F       = "U2F_V2"
	VersionFIDO20    = "FIDO_2_0"
	VersionFIDO21    = "FIDO_2_1"
	VersionFIDO21Pre = "FIDO_2_1_PRE"
)

// AuthenticatorInfo is the answer to authenticatorGetInfo (CTAP 2.1
// §6.4): what the key is, and what the desk may ask of it.
type AuthenticatorInfo struct {
	Versions           []string        `json:"versions"`
	Extensions         []string        `json:"extensions,omitempty"`
	AAGUID             AAGUID          `json:"aaguid"`
	Options            map[string]bool `json:"options,omitempty"`
	MaxMsgSize         uint64          `json:"max_msg_size,omitempty"`
	PinUVAuthProtocols []uint64        `json:"pin_uv_auth_protocols,omitempty"`
	// MaxCredentialCountInList and MaxCredentialIDLength bound an
	// allowList or excludeList (0x07, 0x08).
	MaxCredentialCountInList uint64   `json:"max_credential_count_in_list,omitempty"`
	MaxCredentialIDLength    uint64   `json:"max_credential_id_length,omitempty"`
	Transports               []string `json:"transports,omitempty"`
	// Algorithms the key can make credentials for, in its order of
	// preference (0x0A); entries of other types are dropped.
	Algorithms []CredentialParameter `json:"algorithms,omitempty"`
	// ForcePINChange: the key refuses PIN tokens until the PIN is
	// changed (0x0C).
	ForcePINChange bool `json:"force_pin_change,omitempty"`
	// MinPINLength in Unicode code points (0x0D); 4 when absent.
	MinPINLength    uint64 `json:"min_pin_length,omitempty"`
	FirmwareVersion uint64 `json:"firmware_version,omitempty"`
	// RemainingDiscoverableCredentials is an estimate (0x14); nil when
	// the key does not say.
	RemainingDiscoverableCredentials *uint64 `json:"remaining_discoverable_credentials,omitempty"`
}

// getInfoWire is the CBOR map with its integer keys; keys not listed are
// ignored, as §6.4 asks of platforms.
type getInfoWire struct {
	Versions                         []string         `cbor:"1,keyasint"`
	Extensions                       []string         `cbor:"2,keyasint,omitempty"`
	AAGUID                           []byte           `cbor:"3,keyasint"`
	Options                          map[string]bool  `cbor:"4,keyasint,omitempty"`
	MaxMsgSize                       uint64           `cbor:"5,keyasint,omitempty"`
	PinUVAuthProtocols               []uint64         `cbor:"6,keyasint,omitempty"`
	MaxCredentialCountInList         uint64           `cbor:"7,keyasint,omitempty"`
	MaxCredentialIDLength            uint64           `cbor:"8,keyasint,omitempty"`
	Transports                       []string         `cbor:"9,keyasint,omitempty"`
	Algorithms                       []algorithmEntry `cbor:"10,keyasint,omitempty"`
	ForcePINChange                   bool             `cbor:"12,keyasint,omitempty"`
	MinPINLength                     uint64           `cbor:"13,keyasint,omitempty"`
	FirmwareVersion                  uint64           `cbor:"14,keyasint,omitempty"`
	RemainingDiscoverableCredentials *uint64          `cbor:"20,keyasint,omitempty"`
}

// algorithmEntry is one PublicKeyCredentialParameters of getInfo; §6.4
// lets a platform ignore entries it does not understand, so the type is
// checked after decoding.
type algorithmEntry struct {
	Type string `cbor:"type"`
	Alg  int64  `cbor:"alg"`
}

// ParseGetInfo decodes the CBOR map of a getInfo answer (status byte
// removed). On error it returns nil.
func ParseGetInfo(b []byte) (*AuthenticatorInfo, error) {
	var w getInfoWire
	if err := decode("getInfo", b, &w); err != nil {
		return nil, err
	}
	if len(w.Versions) == 0 {
		return nil, fmt.Errorf("ctap2 getInfo: key 0x01 (versions) missing or empty")
	}
	if len(w.AAGUID) != len(AAGUID{}) {
		return nil, fmt.Errorf("ctap2 getInfo: key 0x03 (aaguid) has %d bytes, want 16", len(w.AAGUID))
	}
	info := &AuthenticatorInfo{
		Versions:                         w.Versions,
		Extensions:                       w.Extensions,
		Options:                          w.Options,
		MaxMsgSize:                       w.MaxMsgSize,
		PinUVAuthProtocols:               w.PinUVAuthProtocols,
		MaxCredentialCountInList:         w.MaxCredentialCountInList,
		MaxCredentialIDLength:            w.MaxCredentialIDLength,
		Transports:                       w.Transports,
		ForcePINChange:                   w.ForcePINChange,
		MinPINLength:                     w.MinPINLength,
		FirmwareVersion:                  w.FirmwareVersion,
		RemainingDiscoverableCredentials: w.RemainingDiscoverableCredentials,
	}
	for _, a := range w.Algorithms {
		if a.Type == CredentialType {
			info.Algorithms = append(info.Algorithms, CredentialParameter{Type: a.Type, Alg: COSEAlgorithm(a.Alg)})
		}
	}
	copy(info.AAGUID[:], w.AAGUID)
	return info, nil
}

// Marshal encodes the info as a getInfo answer (without the status byte),
// in CTAP2 canonical CBOR: the soft key's answer.
func (i *AuthenticatorInfo) Marshal() ([]byte, error) {
	w := getInfoWire{
		Versions:                         i.Versions,
		Extensions:                       i.Extensions,
		AAGUID:                           i.AAGUID[:],
		Options:                          i.Options,
		MaxMsgSize:                       i.MaxMsgSize,
		PinUVAuthProtocols:               i.PinUVAuthProtocols,
		MaxCredentialCountInList:         i.MaxCredentialCountInList,
		MaxCredentialIDLength:            i.MaxCredentialIDLength,
		Transports:                       i.Transports,
		ForcePINChange:                   i.ForcePINChange,
		MinPINLength:                     i.MinPINLength,
		FirmwareVersion:                  i.FirmwareVersion,
		RemainingDiscoverableCredentials: i.RemainingDiscoverableCredentials,
	}
	for _, a := range i.Algorithms {
		w.Algorithms = append(w.Algorithms, algorithmEntry{Type: a.Type, Alg: int64(a.Alg)})
	}
	return encode(w)
}

// Supports reports whether the key lists version v (e.g. VersionFIDO21).
func (i *AuthenticatorInfo) Supports(v string) bool { return slices.Contains(i.Versions, v) }

// Option reports an option ID and whether the key lists it at all
// (§6.4: absent and false can mean different things).
func (i *AuthenticatorInfo) Option(id string) (value, present bool) {
	value, present = i.Options[id]
	return value, present
}

// HasExtension reports whether the key lists extension id.
func (i *AuthenticatorInfo) HasExtension(id string) bool { return slices.Contains(i.Extensions, id) }

// HasAlgorithm reports whether the key lists alg; a key that lists no
// algorithms supports ES256 only (§6.4).
func (i *AuthenticatorInfo) HasAlgorithm(alg COSEAlgorithm) bool {
	if len(i.Algorithms) == 0 {
		return alg == ES256
	}
	return slices.ContainsFunc(i.Algorithms, func(p CredentialParameter) bool { return p.Alg == alg })
}

// PINMinLength is the shortest PIN the key takes, in code points (§6.4:
// 4 when the key does not say).
func (i *AuthenticatorInfo) PINMinLength() int {
	if i.MinPINLength == 0 {
		return MinPINLength
	}
	return int(min(i.MinPINLength, MaxPINBytes))
}

// PINProtocol picks the PIN/UV auth protocol to use: the first listed
// that keydesk speaks (§6.5.5.4 step 1), or 0 if none.
func (i *AuthenticatorInfo) PINProtocol() PINProtocol {
	for _, p := range i.PinUVAuthProtocols {
		if p == 1 || p == 2 {
			return PINProtocol(p)
		}
	}
	if len(i.PinUVAuthProtocols) == 0 && i.Options["clientPin"] {
		return PINProtocolOne // CTAP 2.0 keys may not list it
	}
	return 0
}

// CredentialManagementCommand returns the command byte for credential
// management: 0x0A on FIDO_2_1 keys, the prototype 0x41 on keys that list
// FIDO_2_1_PRE but not FIDO_2_1, or 0 when the key has none.
func (i *AuthenticatorInfo) CredentialManagementCommand() byte {
	switch {
	case i.Supports(VersionFIDO21) && i.Options["credMgmt"]:
		return CmdCredentialManagement
	case i.Supports(VersionFIDO21Pre) && (i.Options["credentialMgmtPreview"] || i.Options["credMgmt"]):
		return CmdCredentialManagementPreview
	case i.Options["credMgmt"]:
		return CmdCredentialManagement
	}
	return 0
}
