package u2f

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// CTAP2 command bytes (CTAP 2.1 §6), the first byte of a CTAPHID_CBOR
// request.
const (
	CmdMakeCredential       = 0x01
	CmdGetAssertion         = 0x02
	CmdGetInfo              = 0x04
	CmdClientPIN            = 0x06
	CmdReset                = 0x07
	CmdGetNextAssertion     = 0x08
	CmdCredentialManagement = 0x0a
	CmdSelection            = 0x0b
	CmdConfig               = 0x0d
	// CmdCredentialManagementPreview is the prototype of credential
	// management that keys announcing FIDO_2_1_PRE (and not FIDO_2_1)
	// answer (CTAP 2.1 §6.8, "authenticatorCredentialManagement ...
	// prototype").
	CmdCredentialManagementPreview = 0x41
)

// CredentialType is the only credential type WebAuthn defines.
const CredentialType = "public-key"

// AAGUID identifies an authenticator model.
type AAGUID [16]byte

// String formats the AAGUID as a UUID.
func (a AAGUID) String() string {
	h := hex.EncodeToString(a[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MarshalText makes JSON carry the UUID form.
func (a AAGUID) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ParseAAGUID reads an AAGUID as people write one: the UUID form String
// gives, or its 32 hex digits without dashes; capitals allowed.
func ParseAAGUID(s string) (AAGUID, error) {
	var a AAGUID
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return a, fmt.Errorf("%q is not an AAGUID (a UUID such as 2a38d610-c3ca-4864-8900-ae3475146b6f)", s)
		}
		h = strings.ReplaceAll(s, "-", "")
	}
	if len(h) != 32 {
		return a, fmt.Errorf("%q is not an AAGUID (a UUID such as 2a38d610-c3ca-4864-8900-ae3475146b6f)", s)
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return AAGUID{}, fmt.Errorf("%q is not an AAGUID (a UUID such as 2a38d610-c3ca-4864-8900-ae3475146b6f)", s)
	}
	return a, nil
}

// RelyingParty is a PublicKeyCredentialRpEntity (WebAuthn §5.4.2).
type RelyingParty struct {
	ID   string `cbor:"id" json:"id"`
	Name string `cbor:"name,omitempty" json:"name,omitempty"`
}

// User is a PublicKeyCredentialUserEntity (WebAuthn §5.4.3).
type User struct {
	ID          []byte `cbor:"id" json:"id"`
	Name        string `cbor:"name,omitempty" json:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty" json:"display_name,omitempty"`
}

// CredentialDescriptor names a credential (WebAuthn §5.8.3).
type CredentialDescriptor struct {
	Type       string   `cbor:"type" json:"type"`
	ID         []byte   `cbor:"id" json:"id"`
	Transports []string `cbor:"transports,omitempty" json:"transports,omitempty"`
}

// CredentialParameter is a PublicKeyCredentialParameters (WebAuthn
// §5.3): a credential type and a signature algorithm.
type CredentialParameter struct {
	Type string        `cbor:"type" json:"type"`
	Alg  COSEAlgorithm `cbor:"alg" json:"alg"`
}

// CredProtect is a credProtect policy (CTAP 2.1 §12.1).
type CredProtect uint8

const (
	// CredProtectUVOptional: the credential is used like any other.
	CredProtectUVOptional CredProtect = 1
	// CredProtectUVOptionalWithList: without user verification, a
	// discoverable credential is used only when the site names it.
	CredProtectUVOptionalWithList CredProtect = 2
	// CredProtectUVRequired: never used without user verification.
	CredProtectUVRequired CredProtect = 3
)

// Extension identifiers (CTAP 2.1 §12).
const (
	ExtCredProtect = "credProtect"
	ExtHMACSecret  = "hmac-secret"
)
