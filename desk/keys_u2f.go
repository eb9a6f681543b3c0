package desk

// U2F-only keys (CTAP1), registered under an AppID. The registration is
// bridged to a WebAuthn "fido-u2f" attestation, as a CTAP2 platform does
// for such a key (CTAP 2.1 §10.3), so that verify judges it under the
// same rules as a CTAP2 key's, and the row holds the COSE key a WebAuthn
// server checks a login under the appid extension with.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// registerU2F registers over U2F under rules' AppID; the challenge
// parameter is the hash of a webauthn.create client data, as a browser's
// CTAP1 bridge makes it.
func (d *Desk) registerU2F(ctx context.Context, dev Authenticator, u inventory.User, rules KeyRules) (KeyRegistration, error) {
	appID := rules.appID()
	cd, err := d.clientData("webauthn.create", rules.origin(rules.RPID))
	if err != nil {
		return KeyRegistration{}, err
	}
	reg, err := dev.Register(ctx, cd.hash, verify.AppParam(appID))
	if err != nil {
		return KeyRegistration{}, err
	}
	obj, err := bridgeRegistration(reg, verify.AppParam(appID))
	if err != nil {
		return KeyRegistration{}, fmt.Errorf("%w: %v", verify.ErrMalformedAnswer, err)
	}
	cred, att, err := verify.CheckWebAuthnRegistration(verify.WebAuthnRegistration{AttestationObject: obj,
		ClientDataJSON: cd.json, Challenge: cd.challenge, Origins: []string{cd.origin}, RPID: rules.RPID, AppID: appID},
		rules.Registration, d.store.Now())
	if err != nil {
		return KeyRegistration{}, err
	}
	k := inventory.Key{Kind: inventory.KeyU2F, KeyHandle: cred.ID, PublicKey: reg.PublicKey, COSEKey: cred.PublicKey,
		Algorithm: cred.Algorithm, Counter: cred.SignCount, AppID: appID, RPID: rules.RPID, Certificate: concat(cred.Chain),
		AttestationFormat: cred.Format, Attestation: att.Result, Model: att.Model, AAGUID: att.AAGUID}
	return KeyRegistration{Key: k, Attestation: att}, nil
}

// bridgeRegistration turns a U2F registration into the attestation
// object of CTAP 2.1 §10.3.1: authenticator data with the application
// parameter as rpIdHash, the zero AAGUID, the key handle as credential
// id and the user key as COSE_Key; a fido-u2f statement of the
// signature and the certificate.
func bridgeRegistration(reg *u2f.Registration, app [u2f.ParamSize]byte) ([]byte, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), reg.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("the key's user public key: %v", err)
	}
	key, err := u2f.NewCOSEKey(pub)
	if err != nil {
		return nil, err
	}
	ad := &u2f.AuthenticatorData{RPIDHash: app, Flags: u2f.FlagUserPresent,
		Credential: &u2f.AttestedCredential{ID: reg.KeyHandle, PublicKey: key}}
	if ad.Raw, err = ad.Marshal(); err != nil {
		return nil, err
	}
	raw, err := u2f.Encode(map[string]any{"sig": reg.Signature, "x5c": [][]byte{reg.Certificate}})
	if err != nil {
		return nil, err
	}
	st, err := u2f.ParseAttestationStatement(u2f.FormatU2F, raw)
	if err != nil {
		return nil, err
	}
	return (&u2f.Attestation{Format: u2f.FormatU2F, AuthData: ad, Statement: st}).AttestationObject()
}

// findU2F asks the key, without a touch, which of keys it made.
func findU2F(ctx context.Context, dev Authenticator, keys []inventory.Key) (*inventory.Key, error) {
	for i := range keys {
		k := &keys[i]
		mine, err := dev.CheckKeyHandle(ctx, verify.AppParam(k.AppID), k.KeyHandle)
		if err != nil {
			return nil, fmt.Errorf("asking the key about its handles: %w", err)
		}
		if mine {
			return k, nil
		}
	}
	return nil, nil
}

// testU2F asks the key to sign under the key's AppID and has verify
// judge it, with the counter as stored when the answer is judged.
func (d *Desk) testU2F(ctx context.Context, dev Authenticator, u inventory.User, key inventory.Key, from verify.Origin) (verify.Decision, error) {
	app := verify.AppParam(key.AppID)
	challenge, err := d.challenge()
	if err != nil {
		return verify.Decision{}, err
	}
	auth, err := dev.Authenticate(ctx, challenge, app, key.KeyHandle)
	if err != nil {
		return verify.Decision{}, err
	}
	var dec verify.Decision
	err = d.update(ctx, func(tx *inventory.Tx) error {
		// Re-read the key under the write lock: the counter check and its
		// update must be one step, or two racing tests could both pass.
		current, err := tx.UserKey(u.ID, fmt.Sprint(key.ID))
		if err != nil {
			return err
		}
		if dec, err = verify.JudgeKey(&current, auth, app, challenge); err != nil {
			return err
		}
		return d.judged(tx, u, current, auth.Counter, from, dec)
	})
	if err != nil {
		return verify.Decision{}, err
	}
	return dec, nil
}

// concat is a certificate chain as the inventory keeps it: DER
// certificates one after the other.
func concat(chain [][]byte) []byte {
	var out []byte
	for _, c := range chain {
		out = append(out, c...)
	}
	return out
}
