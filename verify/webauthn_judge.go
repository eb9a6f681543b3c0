package verify

import (
	"errors"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/keydesk/keydesk/inventory"
)

// Logins by security key from a browser: the decision on an assertion
// (WebAuthn §7.2) made against a key as the inventory keeps it.

// Reasons a browser login by key is denied, besides those of
// [CheckWebAuthnAssertion].
var (
	ErrKeyLost    = errors.New("key reported lost")
	ErrKeyReplay  = errors.New("the key's answer was used already")
	ErrKeyTimeout = errors.New("the sign-in took too long")
)

// The WebAuthn reasons' codes, kept beside their checks.
func init() {
	for err, code := range map[error]string{
		ErrKeyLost: "lost", ErrKeyReplay: "replay", ErrKeyTimeout: "expired",
		ErrClientData: "client_data", ErrWrongRelyingParty: "wrong_relying_party", ErrMalformedAnswer: "malformed",
		ErrNoUserVerification: "no_user_verification",
	} {
		reasonCodes[err] = code
	}
}

// KeyLogin is a key's answer to a login from a browser, with what keydesk
// asked for.
type KeyLogin struct {
	AuthenticatorData []byte
	Signature         []byte
	ClientDataJSON    []byte
	Challenge         []byte   // the ceremony's
	Origins           []string // where the page may be
	RPID              string
	// AppID is the appid extension the ceremony offered; a key registered
	// over U2F answers under it.
	AppID     string
	RequireUV bool
}

// Credential is a stored key as [CheckWebAuthnAssertion] reads it: its
// COSE key, or, for a key registered over U2F before schema 4 kept one,
// its raw P-256 point made a COSE key.
func Credential(k *inventory.Key) (WebAuthnCredential, error) {
	c := WebAuthnCredential{ID: k.KeyHandle, SignCount: k.Counter, Algorithm: k.Algorithm, Format: k.AttestationFormat,
		UserVerified: k.UserVerified, BackupEligible: k.BackupEligible, BackupState: k.BackupState}
	if len(k.COSEKey) > 0 {
		c.PublicKey = k.COSEKey
		return c, nil
	}
	if k.Kind == inventory.KeyCTAP2 {
		return WebAuthnCredential{}, fmt.Errorf("key #%d: a CTAP2 key without its COSE key", k.ID)
	}
	pub, err := parseU2FPublicKey(k.PublicKey)
	if err != nil {
		return WebAuthnCredential{}, fmt.Errorf("key #%d: %w", k.ID, err)
	}
	point, _ := pub.Bytes()
	// RFC 9053 §7.1.1: an EC2 key, curve P-256, for ES256.
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: int(webauthncose.AlgES256), -1: 1, -2: point[1:33], -3: point[33:65]})
	if err != nil {
		return WebAuthnCredential{}, err
	}
	c.PublicKey, c.Algorithm, c.Format = cose, int64(webauthncose.AlgES256), "fido-u2f"
	return c, nil
}

// JudgeKeyLogin decides on a registered key's answer to a login from a
// browser: allowed when the key is active and [CheckWebAuthnAssertion]
// passes; denied when the key was reported lost, or the answer fails a
// check (the signature, the touch, the PIN, the client data, the relying
// party, the counter). A key registered over U2F must answer under the
// AppID offered; one registered as a WebAuthn credential (over CTAP2 at
// the desk, or through a browser), under its RP ID. The KeyUse is what
// to store after an allow. An error is a stored key keydesk cannot
// read: no decision.
func JudgeKeyLogin(k *inventory.Key, in KeyLogin) (Decision, KeyUse, error) {
	d := Decision{Method: "key", KeyID: k.ID, KeyName: k.Name, KeyModel: k.Model}
	switch k.State {
	case inventory.KeyActive:
	case inventory.KeyLost:
		d.Denial = fmt.Errorf("%w: key #%d %q was reported lost on %s", ErrKeyLost, k.ID, k.Name, day(k.StateAt))
		return d, KeyUse{}, nil
	default:
		d.Denial = fmt.Errorf("%w: key #%d %q was removed", ErrNoKey, k.ID, k.Name)
		return d, KeyUse{}, nil
	}
	cred, err := Credential(k)
	if err != nil {
		return Decision{}, KeyUse{}, err
	}
	a := WebAuthnAssertion{AuthenticatorData: in.AuthenticatorData, Signature: in.Signature,
		ClientDataJSON: in.ClientDataJSON, Challenge: in.Challenge, Origins: in.Origins, RPID: in.RPID, RequireUV: in.RequireUV}
	if k.Kind != inventory.KeyCTAP2 {
		if in.AppID == "" || in.AppID != k.AppID {
			d.Denial = fmt.Errorf("%w: key #%d %q was registered under the U2F AppID %q, which this sign-in did not offer", ErrNoKey, k.ID, k.Name, k.AppID)
			return d, KeyUse{}, nil
		}
		// A U2F key can only answer under its AppID; the RP ID's hash is
		// not one it could have made, so it is not accepted either.
		a.RPID, a.AppID = k.AppID, k.AppID
	} else if k.RPID != in.RPID {
		d.Denial = fmt.Errorf("%w: key #%d %q belongs to the relying party %q", ErrNoKey, k.ID, k.Name, k.RPID)
		return d, KeyUse{}, nil
	}
	use, err := CheckWebAuthnAssertion(cred, a)
	d.Counter = use.SignCount
	var known bool
	for _, e := range []error{ErrMalformedAnswer, ErrClientData, ErrWrongRelyingParty, ErrNoPresence, ErrNoUserVerification, ErrBadSignature, ErrCounter} {
		known = known || errors.Is(err, e)
	}
	switch {
	case err == nil:
		d.Allow = true
		return d, use, nil
	case known:
		d.Denial = fmt.Errorf("key #%d %q: %w", k.ID, k.Name, err)
		return d, KeyUse{}, nil
	}
	return Decision{}, KeyUse{}, err
}

// KeyOffered reports whether a key is one a ceremony offered.
func KeyOffered(offered []int64, id int64) bool { return slices.Contains(offered, id) }
