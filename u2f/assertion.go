package u2f

import "fmt"

// GetAssertionRequest is authenticatorGetAssertion's request (CTAP 2.1
// §6.2).
type GetAssertionRequest struct {
	RPID           string                 `cbor:"1,keyasint"`
	ClientDataHash []byte                 `cbor:"2,keyasint"`
	AllowList      []CredentialDescriptor `cbor:"3,keyasint,omitempty"`
	// Options: "up" (default true) and "uv".
	Options           map[string]bool `cbor:"5,keyasint,omitempty"`
	PinUVAuthParam    []byte          `cbor:"6,keyasint,omitempty"`
	PinUVAuthProtocol PINProtocol     `cbor:"7,keyasint,omitempty"`
}

func (r *GetAssertionRequest) check() error {
	const what = "getAssertion"
	switch {
	case r.RPID == "":
		return missing(what, 1, "rpId")
	case len(r.ClientDataHash) == 0:
		return missing(what, 2, "clientDataHash")
	case len(r.ClientDataHash) != 32:
		return fmt.Errorf("ctap2 %s request: clientDataHash of %d bytes, want 32: %w", what, len(r.ClientDataHash), ErrInvalidLength)
	}
	return nil
}

// Marshal encodes the request, command byte not included.
func (r *GetAssertionRequest) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	return encode(r)
}

// ParseGetAssertionRequest is the authenticator's reading of a request;
// its errors wrap the CTAP2Error to answer.
func ParseGetAssertionRequest(b []byte) (*GetAssertionRequest, error) {
	var r GetAssertionRequest
	if err := decodeRequest("getAssertion", b, &r); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Assertion is the answer to getAssertion and getNextAssertion (CTAP 2.1
// §6.2, §6.3).
type Assertion struct {
	// Credential is the credential that signed. A key may leave it out
	// when the allowList named exactly one; hid's client fills it in then.
	Credential *CredentialDescriptor `json:"credential,omitempty"`
	AuthData   *AuthenticatorData    `json:"-"`
	Signature  []byte                `json:"signature"`
	// User is the account of a discoverable credential.
	User *User `json:"user,omitempty"`
	// NumberOfCredentials is how many credentials matched, in the
	// answer to getAssertion; getNextAssertion fetches the others.
	NumberOfCredentials int  `json:"number_of_credentials,omitempty"`
	UserSelected        bool `json:"user_selected,omitempty"`
}

type assertionWire struct {
	Credential          *CredentialDescriptor `cbor:"1,keyasint,omitempty"`
	AuthData            []byte                `cbor:"2,keyasint"`
	Signature           []byte                `cbor:"3,keyasint"`
	User                *User                 `cbor:"4,keyasint,omitempty"`
	NumberOfCredentials uint64                `cbor:"5,keyasint,omitempty"`
	UserSelected        bool                  `cbor:"6,keyasint,omitempty"`
	LargeBlobKey        []byte                `cbor:"7,keyasint,omitempty"`
}

// ParseGetAssertionResponse reads an answer to getAssertion or
// getNextAssertion (status byte removed). On error it returns nil.
func ParseGetAssertionResponse(b []byte) (*Assertion, error) {
	const what = "getAssertion"
	var w assertionWire
	if err := decode(what, b, &w); err != nil {
		return nil, err
	}
	switch {
	case w.AuthData == nil:
		return nil, fmt.Errorf("ctap2 %s: key 0x02 (authData) missing", what)
	case len(w.Signature) == 0:
		return nil, fmt.Errorf("ctap2 %s: key 0x03 (signature) missing", what)
	case w.Credential != nil && (w.Credential.Type == "" || len(w.Credential.ID) == 0 || len(w.Credential.ID) > MaxCredentialIDLength):
		return nil, fmt.Errorf("ctap2 %s: key 0x01 (credential) without a type or with an ID of %d bytes", what, len(w.Credential.ID))
	case w.User != nil && (len(w.User.ID) == 0 || len(w.User.ID) > 64):
		return nil, fmt.Errorf("ctap2 %s: key 0x04 (user) with an ID of %d bytes, want 1 to 64", what, len(w.User.ID))
	case w.NumberOfCredentials > 1<<16:
		return nil, fmt.Errorf("ctap2 %s: key 0x05 (numberOfCredentials) %d is not plausible", what, w.NumberOfCredentials)
	}
	ad, err := ParseAuthenticatorData(w.AuthData)
	if err != nil {
		return nil, fmt.Errorf("ctap2 %s: key 0x02: %w", what, err)
	}
	if ad.Credential != nil {
		return nil, fmt.Errorf("ctap2 %s: key 0x02: an assertion does not attest a credential", what)
	}
	return &Assertion{Credential: w.Credential, AuthData: ad, Signature: w.Signature, User: w.User,
		NumberOfCredentials: int(w.NumberOfCredentials), UserSelected: w.UserSelected}, nil
}

// Marshal encodes the answer as an authenticator sends it, status byte
// not included.
func (a *Assertion) Marshal() ([]byte, error) {
	return encode(assertionWire{Credential: a.Credential, AuthData: a.AuthData.Raw, Signature: a.Signature, User: a.User,
		NumberOfCredentials: uint64(a.NumberOfCredentials), UserSelected: a.UserSelected})
}

// SignedData is what the signature covers: authData || clientDataHash
// (WebAuthn §6.3.3 step 11).
func (a *Assertion) SignedData(clientDataHash []byte) []byte {
	return append(append([]byte(nil), a.AuthData.Raw...), clientDataHash...)
}
