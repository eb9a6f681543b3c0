package verify

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
)

// KeyPolicy is how keys are registered and tested.
type KeyPolicy struct {
	AppID string
	Trust *TrustStore
	// RequireTrusted refuses keys whose attestation does not chain to a
	// trusted root; by default the result is only recorded.
	RequireTrusted bool
}

// Admit decides whether a key with attestation att may be registered.
func (p KeyPolicy) Admit(att Attestation) error {
	if p.RequireTrusted && !att.Trusted() {
		return fmt.Errorf("%w: %s (issuer %s); the policy requires a trusted attestation", ErrUntrusted, att.Result, att.Issuer)
	}
	return nil
}

// CheckRegistration verifies a U2F registration (FIDO U2F raw message
// format §4.3): the attestation key signed 0x00 || app || challenge ||
// key handle || user public key. It returns what the attestation says.
func CheckRegistration(reg *u2f.Registration, app, challenge [u2f.ParamSize]byte, ts *TrustStore, now time.Time) (Attestation, error) {
	att, cert, err := CheckAttestation(reg.Certificate, ts, now)
	if err != nil {
		return Attestation{}, err
	}
	if _, err := parseU2FPublicKey(reg.PublicKey); err != nil {
		return Attestation{}, err
	}
	if err := verifyES256(cert.PublicKey.(*ecdsa.PublicKey), reg.SignedData(app, challenge), reg.Signature); err != nil {
		return Attestation{}, fmt.Errorf("registration %w with the attestation certificate", err)
	}
	return att, nil
}

// CheckAuthentication verifies a U2F authentication (raw message format
// §5.4): the key signed app || flags || counter || challenge, the user was
// present, and the counter grew past the stored one.
func CheckAuthentication(k *inventory.Key, auth *u2f.Authentication, app, challenge [u2f.ParamSize]byte) error {
	pub, err := parseU2FPublicKey(k.PublicKey)
	if err != nil {
		return err
	}
	if err := verifyES256(pub, auth.SignedData(app, challenge), auth.Signature); err != nil {
		return fmt.Errorf("authentication %w with key #%d's public key", err, k.ID)
	}
	if !auth.UserPresent() {
		return ErrNoPresence
	}
	if auth.Counter <= k.Counter {
		return fmt.Errorf("%w (key #%d %q answered %d, last seen %d)", ErrCounter, k.ID, k.Name, auth.Counter, k.Counter)
	}
	return nil
}

// JudgeKey decides on a registered key's answer to a test: allowed when
// [CheckAuthentication] passes, denied when the signature, the touch or
// the counter is wrong. An error is a stored key keydesk cannot read: no
// decision.
func JudgeKey(k *inventory.Key, auth *u2f.Authentication, app, challenge [u2f.ParamSize]byte) (Decision, error) {
	d := Decision{Method: "key", KeyID: k.ID, KeyName: k.Name, KeyModel: k.Model, Counter: auth.Counter}
	err := CheckAuthentication(k, auth, app, challenge)
	switch {
	case err == nil:
		d.Allow = true
		return d, nil
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrNoPresence), errors.Is(err, ErrCounter):
		d.Denial = err
		return d, nil
	}
	return Decision{}, err
}
