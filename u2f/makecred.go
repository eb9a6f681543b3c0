package u2f

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// MakeCredentialRequest is authenticatorMakeCredential's request (CTAP
// 2.1 §6.1); the map keys are the spec's.
type MakeCredentialRequest struct {
	ClientDataHash   []byte                    `cbor:"1,keyasint"`
	RP               RelyingParty              `cbor:"2,keyasint"`
	User             User                      `cbor:"3,keyasint"`
	PubKeyCredParams []CredentialParameter     `cbor:"4,keyasint"`
	ExcludeList      []CredentialDescriptor    `cbor:"5,keyasint,omitempty"`
	Extensions       *MakeCredentialExtensions `cbor:"6,keyasint,omitempty"`
	// Options: "rk" (a discoverable credential), "uv" (built-in user
	// verification), "up" (must not be false here).
	Options           map[string]bool `cbor:"7,keyasint,omitempty"`
	PinUVAuthParam    []byte          `cbor:"8,keyasint,omitempty"`
	PinUVAuthProtocol PINProtocol     `cbor:"9,keyasint,omitempty"`
	// EnterpriseAttestation is 1 or 2 to ask for it; the soft key does
	// not do it.
	EnterpriseAttestation uint64 `cbor:"10,keyasint,omitempty"`
}

// MakeCredentialExtensions are the extension inputs keydesk sends (CTAP
// 2.1 §12); others are ignored on decoding.
type MakeCredentialExtensions struct {
	CredProtect CredProtect `cbor:"credProtect,omitempty"`
	HMACSecret  bool        `cbor:"hmac-secret,omitempty"`
}

// check applies the rules every makeCredential request follows.
func (r *MakeCredentialRequest) check() error {
	const what = "makeCredential"
	switch {
	case len(r.ClientDataHash) == 0:
		return missing(what, 1, "clientDataHash")
	case r.RP.ID == "":
		return missing(what, 2, "rp.id")
	case len(r.User.ID) == 0:
		return missing(what, 3, "user.id")
	case r.PubKeyCredParams == nil:
		return missing(what, 4, "pubKeyCredParams")
	case len(r.ClientDataHash) != 32:
		return fmt.Errorf("ctap2 %s request: clientDataHash of %d bytes, want 32: %w", what, len(r.ClientDataHash), ErrInvalidLength)
	case len(r.User.ID) > 64:
		// WebAuthn §5.4.3: a user handle is at most 64 bytes.
		return fmt.Errorf("ctap2 %s request: user.id of %d bytes, at most 64: %w", what, len(r.User.ID), ErrInvalidLength)
	case r.Extensions != nil && r.Extensions.CredProtect > CredProtectUVRequired:
		return fmt.Errorf("ctap2 %s request: credProtect %d: %w", what, r.Extensions.CredProtect, ErrInvalidParameter)
	}
	return nil
}

// Marshal encodes the request, command byte not included.
func (r *MakeCredentialRequest) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	return encode(r)
}

// ParseMakeCredentialRequest is the authenticator's reading of a
// request; its errors wrap the CTAP2Error to answer.
func ParseMakeCredentialRequest(b []byte) (*MakeCredentialRequest, error) {
	var r MakeCredentialRequest
	if err := decodeRequest("makeCredential", b, &r); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Attestation formats (WebAuthn §8).
const (
	FormatPacked = "packed"
	FormatU2F    = "fido-u2f"
	FormatNone   = "none"
)

// Attestation is authenticatorMakeCredential's answer (CTAP 2.1 §6.1):
// the new credential and the attestation over it.
type Attestation struct {
	Format                string
	AuthData              *AuthenticatorData
	Statement             *AttestationStatement
	EnterpriseAttestation bool
}

// AttestationStatement is the attStmt of an attestation (WebAuthn §8).
// Alg, Sig and X5C are filled for "packed" and "fido-u2f"; Raw is the
// statement as sent whatever its format.
type AttestationStatement struct {
	Alg COSEAlgorithm
	Sig []byte
	X5C [][]byte // DER certificates, the attestation certificate first
	Raw []byte
}

type makeCredentialWire struct {
	Fmt          string          `cbor:"1,keyasint"`
	AuthData     []byte          `cbor:"2,keyasint"`
	AttStmt      cbor.RawMessage `cbor:"3,keyasint"`
	EpAtt        bool            `cbor:"4,keyasint,omitempty"`
	LargeBlobKey []byte          `cbor:"5,keyasint,omitempty"`
}

// ParseMakeCredentialResponse reads the answer (status byte removed). The
// authenticator data must carry the new credential. On error it returns
// nil.
func ParseMakeCredentialResponse(b []byte) (*Attestation, error) {
	const what = "makeCredential"
	var w makeCredentialWire
	if err := decode(what, b, &w); err != nil {
		return nil, err
	}
	switch {
	case w.Fmt == "":
		return nil, fmt.Errorf("ctap2 %s: key 0x01 (fmt) missing", what)
	case w.AuthData == nil:
		return nil, fmt.Errorf("ctap2 %s: key 0x02 (authData) missing", what)
	case w.AttStmt == nil:
		return nil, fmt.Errorf("ctap2 %s: key 0x03 (attStmt) missing", what)
	}
	ad, err := ParseAuthenticatorData(w.AuthData)
	if err != nil {
		return nil, fmt.Errorf("ctap2 %s: key 0x02: %w", what, err)
	}
	if ad.Credential == nil {
		return nil, fmt.Errorf("ctap2 %s: key 0x02: authenticator data without the attested credential", what)
	}
	st, err := ParseAttestationStatement(w.Fmt, w.AttStmt)
	if err != nil {
		return nil, fmt.Errorf("ctap2 %s: key 0x03: %w", what, err)
	}
	return &Attestation{Format: w.Fmt, AuthData: ad, Statement: st, EnterpriseAttestation: w.EpAtt}, nil
}

type attStmtWire struct {
	Alg *int64   `cbor:"alg,omitempty"`
	Sig []byte   `cbor:"sig,omitempty"`
	X5C [][]byte `cbor:"x5c,omitempty"`
}

// maxCertificates bounds an x5c chain.
const maxCertificates = 8

// ParseAttestationStatement reads an attStmt of the given format:
// "packed" needs alg and sig (x5c optional), "fido-u2f" sig and one
// certificate, "none" an empty map; others must be a map and are kept
// raw for package verify to judge. On error it returns nil.
func ParseAttestationStatement(format string, b []byte) (*AttestationStatement, error) {
	const what = "attestation statement"
	var m map[string]cbor.RawMessage
	if err := decode(what, b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%s: not a map", what)
	}
	st := &AttestationStatement{Raw: append([]byte(nil), b...)}
	switch format {
	case FormatNone:
		if len(m) != 0 {
			return nil, fmt.Errorf("%s: format none with %d entries, want none", what, len(m))
		}
		return st, nil
	case FormatPacked, FormatU2F:
	default:
		return st, nil
	}
	var w attStmtWire
	if err := decode(what, b, &w); err != nil {
		return nil, err
	}
	if len(w.Sig) == 0 {
		return nil, fmt.Errorf("%s: %s without sig", what, format)
	}
	if len(w.X5C) > maxCertificates {
		return nil, fmt.Errorf("%s: x5c of %d certificates, at most %d", what, len(w.X5C), maxCertificates)
	}
	if _, ok := m["x5c"]; ok && len(w.X5C) == 0 {
		return nil, fmt.Errorf("%s: x5c is empty", what)
	}
	for i, c := range w.X5C {
		if len(c) == 0 {
			return nil, fmt.Errorf("%s: x5c[%d] is empty", what, i)
		}
	}
	switch format {
	case FormatPacked:
		if w.Alg == nil {
			return nil, fmt.Errorf("%s: packed without alg", what)
		}
		st.Alg = COSEAlgorithm(*w.Alg)
	case FormatU2F:
		if len(w.X5C) != 1 {
			return nil, fmt.Errorf("%s: fido-u2f with %d certificates, want 1", what, len(w.X5C))
		}
		st.Alg = ES256
	}
	st.Sig, st.X5C = w.Sig, w.X5C
	return st, nil
}

// NewPackedStatement encodes a packed attestation statement (WebAuthn
// §8.2); x5c nil makes it self attestation.
func NewPackedStatement(alg COSEAlgorithm, sig []byte, x5c [][]byte) (*AttestationStatement, error) {
	a := int64(alg)
	raw, err := encode(attStmtWire{Alg: &a, Sig: sig, X5C: x5c})
	if err != nil {
		return nil, err
	}
	return &AttestationStatement{Alg: alg, Sig: sig, X5C: x5c, Raw: raw}, nil
}

// Marshal encodes the answer as an authenticator sends it, status byte
// not included.
func (a *Attestation) Marshal() ([]byte, error) {
	return encode(makeCredentialWire{Fmt: a.Format, AuthData: a.AuthData.Raw, AttStmt: a.Statement.Raw, EpAtt: a.EnterpriseAttestation})
}

// AttestationObject is the same attestation as a WebAuthn attestation
// object (WebAuthn §6.5.4: the map with text keys fmt, attStmt,
// authData), the form a browser hands a server.
func (a *Attestation) AttestationObject() ([]byte, error) {
	return encode(struct {
		Fmt      string          `cbor:"fmt"`
		AttStmt  cbor.RawMessage `cbor:"attStmt"`
		AuthData []byte          `cbor:"authData"`
	}{a.Format, a.Statement.Raw, a.AuthData.Raw})
}

// SignedData is what a packed attestation signature covers: authData ||
// clientDataHash (WebAuthn §8.2).
func (a *Attestation) SignedData(clientDataHash []byte) []byte {
	return append(append([]byte(nil), a.AuthData.Raw...), clientDataHash...)
}
