package server

// The JSON of WebAuthn in the browser: the bodies of the ceremony routes,
// and a PublicKeyCredential as a page sends it (its toJSON form, WebAuthn
// Level 3 §5.1.8, §5.2.1.2, §5.2.2.1).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
)

// maxKeyBody bounds a ceremony's finish: an attestation object is at most
// 64 KiB (verify's bound), a third more in base64.
const maxKeyBody = 128 << 10

// usernameRequest is the body of POST /v1/preauth and
// /v1/auth/webauthn/begin.
type usernameRequest struct {
	Username string `json:"username"`
}

func (u *usernameRequest) Validate() error {
	if err := inventory.CheckUserName(u.Username); err != nil {
		return fmt.Errorf("username: %w", err)
	}
	return nil
}

// checkTransaction checks the shape of a ceremony's transaction id.
func checkTransaction(t string) error {
	if t == "" || len(t) > 128 {
		return errors.New("transaction: want the transaction begin answered")
	}
	if _, err := base64.RawURLEncoding.DecodeString(t); err != nil {
		return errors.New("transaction: not one keydesk made")
	}
	return nil
}

// loginFinishRequest is the body of POST /v1/auth/webauthn/finish: the
// transaction begin answered and the browser's PublicKeyCredential.
type loginFinishRequest struct {
	Transaction string          `json:"transaction"`
	Credential  json.RawMessage `json:"credential"`

	answer desk.KeyAnswer // what Validate read from Credential
}

func (f *loginFinishRequest) Validate() error {
	if err := checkTransaction(f.Transaction); err != nil {
		return err
	}
	a, err := parseAssertion(f.Credential)
	if err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	f.answer = a
	return nil
}

// registerFinishRequest is the body of POST
// /v1/admin/users/{user}/keys/webauthn/finish.
type registerFinishRequest struct {
	Transaction string          `json:"transaction"`
	Credential  json.RawMessage `json:"credential"`
	Name        string          `json:"name"`

	attestation desk.KeyAttestation
}

func (f *registerFinishRequest) Validate() error {
	if err := checkTransaction(f.Transaction); err != nil {
		return err
	}
	if len(f.Name) > 64 {
		return errors.New("name: at most 64 characters")
	}
	a, err := parseAttestation(f.Credential)
	if err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	f.attestation = a
	return nil
}

// credentialJSON is a PublicKeyCredential's JSON. Members it does not
// name are ignored: browsers add some over time (WebAuthn Level 3 lets
// the JSON grow), and none of them is checked.
type credentialJSON struct {
	ID       string `json:"id"`
	RawID    b64url `json:"rawId"`
	Type     string `json:"type"`
	Response struct {
		ClientDataJSON    b64url   `json:"clientDataJSON"`
		AuthenticatorData b64url   `json:"authenticatorData"`
		Signature         b64url   `json:"signature"`
		UserHandle        b64url   `json:"userHandle"`
		AttestationObject b64url   `json:"attestationObject"`
		Transports        []string `json:"transports"`
	} `json:"response"`
}

// b64url is bytes in the unpadded base64url of WebAuthn's JSON; padding
// is tolerated, as some libraries add it.
type b64url []byte

func (b *b64url) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return errors.New("want a base64url string")
	}
	v, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return fmt.Errorf("not base64url: %v", err)
	}
	*b = v
	return nil
}

// readCredential reads the parts common to both ceremonies.
func readCredential(raw json.RawMessage) (credentialJSON, error) {
	var c credentialJSON
	if len(raw) == 0 || string(raw) == "null" {
		return c, errors.New("missing; want the PublicKeyCredential the browser made, as JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return credentialJSON{}, fmt.Errorf("at byte %d: %v", dec.InputOffset(), err)
	}
	switch {
	case c.Type != string(protocol.PublicKeyCredentialType):
		return credentialJSON{}, fmt.Errorf("type %q, want public-key", c.Type)
	case len(c.RawID) == 0 || len(c.RawID) > 1023:
		// WebAuthn §4: a credential id is at most 1023 bytes.
		return credentialJSON{}, errors.New("rawId: want 1 to 1023 bytes")
	case c.ID != base64.RawURLEncoding.EncodeToString(c.RawID):
		return credentialJSON{}, errors.New("id is not rawId in base64url")
	case len(c.Response.ClientDataJSON) == 0:
		return credentialJSON{}, errors.New("response.clientDataJSON: missing")
	}
	return c, nil
}

// parseAssertion reads a PublicKeyCredential of a login. On error it
// returns nothing half-read.
func parseAssertion(raw json.RawMessage) (desk.KeyAnswer, error) {
	c, err := readCredential(raw)
	if err != nil {
		return desk.KeyAnswer{}, err
	}
	if len(c.Response.AuthenticatorData) == 0 || len(c.Response.Signature) == 0 {
		return desk.KeyAnswer{}, errors.New("response: want authenticatorData and signature, the answer to a sign-in")
	}
	return desk.KeyAnswer{CredentialID: c.RawID, ClientDataJSON: c.Response.ClientDataJSON,
		AuthenticatorData: c.Response.AuthenticatorData, Signature: c.Response.Signature}, nil
}

// parseAttestation reads a PublicKeyCredential of a registration.
func parseAttestation(raw json.RawMessage) (desk.KeyAttestation, error) {
	c, err := readCredential(raw)
	if err != nil {
		return desk.KeyAttestation{}, err
	}
	if len(c.Response.AttestationObject) == 0 {
		return desk.KeyAttestation{}, errors.New("response.attestationObject: missing, want the answer to a registration")
	}
	var transports []string
	for _, t := range c.Response.Transports {
		switch protocol.AuthenticatorTransport(t) {
		case protocol.USB, protocol.NFC, protocol.BLE, protocol.Hybrid, protocol.Internal, protocol.SmartCard:
			transports = append(transports, t)
		}
	}
	return desk.KeyAttestation{CredentialID: c.RawID, ClientDataJSON: c.Response.ClientDataJSON,
		AttestationObject: c.Response.AttestationObject, Transports: transports}, nil
}

// requestOptions are the PublicKeyCredentialRequestOptions of a login
// (WebAuthn §5.5), in the JSON form parseRequestOptionsFromJSON reads.
func requestOptions(site desk.Site, c desk.KeyChallenge) protocol.PublicKeyCredentialRequestOptions {
	o := protocol.PublicKeyCredentialRequestOptions{
		Challenge:        c.Challenge,
		Timeout:          int(site.Timeout.Milliseconds()),
		RelyingPartyID:   site.RPID,
		UserVerification: protocol.UserVerificationRequirement(c.UserVerification),
		// WebAuthn §10.1.1: keys registered over U2F answer under the AppID.
		Extensions: protocol.AuthenticationExtensions{AppID: c.AppID},
	}
	if o.Timeout == 0 {
		o.Timeout = 120000
	}
	for _, k := range c.Keys {
		o.AllowedCredentials = append(o.AllowedCredentials, descriptor(k))
	}
	return o
}

// descriptor names a key in allowCredentials or excludeCredentials, with
// the transports its browser registration reported (WebAuthn §5.8.3). A
// U2F key, registered at the desk over USB, is named a USB key; of a
// CTAP2 key registered at the desk no transports are known, and the
// browser is left to find it its own way (a key may do NFC too).
func descriptor(k inventory.Key) protocol.CredentialDescriptor {
	d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: k.KeyHandle}
	for _, t := range k.Transports {
		d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
	}
	if len(d.Transport) == 0 && k.Kind == inventory.KeyU2F {
		d.Transport = []protocol.AuthenticatorTransport{protocol.USB}
	}
	return d
}

// creationOptions are the PublicKeyCredentialCreationOptions of a
// registration (WebAuthn §5.4): the user's keys excluded, direct
// attestation, so the desk's policy can judge the model.
func creationOptions(site desk.Site, c desk.KeyChallenge) protocol.PublicKeyCredentialCreationOptions {
	o := protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{CredentialEntity: protocol.CredentialEntity{Name: site.RPName}, ID: site.RPID},
		User: protocol.UserEntity{CredentialEntity: protocol.CredentialEntity{Name: c.User.Name},
			DisplayName: or(c.User.FullName, c.User.Name), ID: protocol.URLEncodedBase64(c.UserHandle)},
		Challenge: c.Challenge,
		Parameters: []protocol.CredentialParameter{
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
		},
		Timeout: int(site.Timeout.Milliseconds()),
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			// A second factor on a key: nothing needs to be stored on it.
			ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
			UserVerification: protocol.UserVerificationRequirement(c.UserVerification),
		},
		Attestation: protocol.PreferDirectAttestation,
		// WebAuthn §10.1.2: a key registered over U2F is excluded too.
		Extensions: protocol.AuthenticationExtensions{AppIDExclude: c.AppID},
	}
	if o.Timeout == 0 {
		o.Timeout = 120000
	}
	for _, k := range c.Keys {
		o.CredentialExcludeList = append(o.CredentialExcludeList, descriptor(k))
	}
	return o
}
