package desk

// CTAP2 keys, registered as WebAuthn credentials of the relying party.
// keydesk plays the browser's part: it builds the client data (WebAuthn
// §5.8.1), sends its hash to the key, and checks the answer as a WebAuthn
// server would, so that a browser at the relying party can later log in
// with the credential.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// clientData is a CollectedClientData keydesk made (WebAuthn §5.8.1).
type clientData struct {
	json      []byte
	challenge []byte
	hash      [32]byte
	origin    string
}

// clientData builds the client data of a ceremony ("webauthn.create",
// "webauthn.get") with a fresh challenge of 32 random bytes, its members
// in the order of §5.8.1.1's serialization.
func (d *Desk) clientData(ceremony, origin string) (clientData, error) {
	challenge := make([]byte, 32)
	if _, err := io.ReadFull(d.rand, challenge); err != nil {
		return clientData{}, fmt.Errorf("failed to draw a challenge: %w", err)
	}
	b, err := json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{ceremony, base64.RawURLEncoding.EncodeToString(challenge), origin, false})
	if err != nil {
		return clientData{}, err
	}
	return clientData{json: b, challenge: challenge, hash: sha256.Sum256(b), origin: origin}, nil
}

// userHandleSize: WebAuthn §14.6.1 recommends 64 random bytes.
const userHandleSize = 64

// registerCTAP2 makes a credential for rules.RPID (CTAP 2.1 §6.1).
func (d *Desk) registerCTAP2(ctx context.Context, dev Device, u inventory.User, req KeyRequest, rules KeyRules, known []inventory.Key) (KeyRegistration, error) {
	info, err := dev.CTAP2.GetInfo(ctx)
	if err != nil {
		return KeyRegistration{}, err
	}
	// A model the MDS refuses is refused before it makes a credential
	// that would stay on it; verify judges the attested AAGUID again.
	if m := rules.Registration.MDS; m != nil {
		if err := m.Refuse(info.AAGUID); err != nil {
			return KeyRegistration{}, err
		}
	}
	if req.Resident && !info.Options["rk"] {
		return KeyRegistration{}, verify.Refusef("this key cannot keep resident credentials")
	}
	mc := &u2f.MakeCredentialRequest{RP: u2f.RelyingParty{ID: rules.RPID, Name: rules.RPID}}
	// A key with a PIN is asked for it (its credentials then carry the UV
	// flag); one with alwaysUv insists (CTAP 2.1 §7.2).
	need := rules.RequirePIN || info.Options["alwaysUv"] || info.Options["clientPin"]
	tok, uv, err := unlock(ctx, dev, info, u2f.PermMakeCredential, rules.RPID, need)
	if err != nil {
		return KeyRegistration{}, err
	}
	mc.Options = map[string]bool{}
	if uv {
		mc.Options["uv"] = true
	}
	if req.Resident {
		mc.Options["rk"] = true
		// CTAP 2.1 §12.1: a resident credential the key names only to
		// the site that asks for it, or to a user who gave the PIN; a
		// stolen key does not tell whose it is.
		mc.Extensions = &u2f.MakeCredentialExtensions{CredProtect: u2f.CredProtectUVOptionalWithList}
	}
	handle := u.WebAuthnID
	var newHandle []byte
	if handle == nil {
		handle = make([]byte, userHandleSize)
		if _, err := io.ReadFull(d.rand, handle); err != nil {
			return KeyRegistration{}, fmt.Errorf("failed to draw a user handle: %w", err)
		}
		newHandle = handle
	}
	mc.User = u2f.User{ID: handle, Name: u.Name, DisplayName: or(u.FullName, u.Name)}
	exclude := credentialsOf(known, rules.RPID, info)
	if err := refuseKnownCTAP2(ctx, dev.CTAP2, info, rules.RPID, exclude, known, len(exclude) > listSize(info)); err != nil {
		return KeyRegistration{}, err
	}
	if len(exclude) <= listSize(info) {
		mc.ExcludeList = exclude
	}
	cd, err := d.clientData("webauthn.create", rules.origin(rules.RPID))
	if err != nil {
		return KeyRegistration{}, err
	}
	mc.ClientDataHash = cd.hash[:]
	att, err := dev.CTAP2.MakeCredential(ctx, mc, tok)
	if errors.Is(err, u2f.ErrCredentialExcluded) {
		// §6.1.2 step 11: the key holds one of the excludeList. Ask it
		// silently which, to name the holder.
		if err := refuseKnownCTAP2(ctx, dev.CTAP2, info, rules.RPID, exclude, known, true); err != nil {
			return KeyRegistration{}, err
		}
		return KeyRegistration{}, fmt.Errorf("%w: the key holds a credential registered for %s", verify.ErrKeyRegistered, rules.RPID)
	}
	if err != nil {
		return KeyRegistration{}, err
	}
	obj, err := att.AttestationObject()
	if err != nil {
		return KeyRegistration{}, err
	}
	cred, a, err := verify.CheckWebAuthnRegistration(verify.WebAuthnRegistration{AttestationObject: obj,
		ClientDataJSON: cd.json, Challenge: cd.challenge, Origins: []string{cd.origin}, RPID: rules.RPID},
		rules.Registration, d.store.Now())
	if err != nil {
		if req.Resident {
			return KeyRegistration{}, fmt.Errorf("%w (the key keeps the resident credential it made; keydesk key creds delete removes it)", err)
		}
		return KeyRegistration{}, err
	}
	k := inventory.Key{Kind: inventory.KeyCTAP2, KeyHandle: cred.ID, COSEKey: cred.PublicKey, Algorithm: cred.Algorithm,
		Counter: cred.SignCount, RPID: rules.RPID, Certificate: concat(cred.Chain), AttestationFormat: cred.Format,
		Attestation: a.Result, Model: a.Model, AAGUID: cred.AAGUID.String(), Resident: req.Resident,
		UserVerified: cred.UserVerified, BackupEligible: cred.BackupEligible, BackupState: cred.BackupState}
	return KeyRegistration{Key: k, Attestation: a, userHandle: newHandle}, nil
}

// unlock gets what the key needs to verify its user for perm (CTAP 2.1
// §6.1.2 steps 4-11, §6.2.2 step 4) when need is set: a PIN token when
// the key has a PIN, the "uv" option when it has built-in verification.
func unlock(ctx context.Context, dev Device, info *u2f.AuthenticatorInfo, perm u2f.Permission, rpID string, need bool) (*u2f.PINToken, bool, error) {
	switch {
	case !need:
		return nil, false, nil
	case info.Options["clientPin"]:
		pin := ""
		if dev.PIN != nil {
			var err error
			if pin, err = dev.PIN(); err != nil {
				return nil, false, err
			}
		}
		if pin == "" {
			return nil, false, ErrPINRequired
		}
		tok, err := dev.CTAP2.PINTokenWithPermissions(ctx, pin, perm, rpID)
		return tok, false, err
	case info.Options["uv"]:
		return nil, true, nil
	}
	return nil, false, ErrNoPIN
}

// listSize is how many credentials an allowList or excludeList may name
// (CTAP 2.1 §6.4 maxCredentialCountInList; a key that does not say takes
// one at a time).
func listSize(info *u2f.AuthenticatorInfo) int {
	return max(1, int(info.MaxCredentialCountInList))
}

// credentialsOf lists the CTAP2 credentials of rpID among keys that the
// key could hold: longer ids than it makes cannot be its (§6.4
// maxCredentialIdLength).
func credentialsOf(keys []inventory.Key, rpID string, info *u2f.AuthenticatorInfo) []u2f.CredentialDescriptor {
	var out []u2f.CredentialDescriptor
	for _, k := range keys {
		if k.Kind != inventory.KeyCTAP2 || k.RPID != rpID || k.State != inventory.KeyActive {
			continue
		}
		if info.MaxCredentialIDLength > 0 && uint64(len(k.KeyHandle)) > info.MaxCredentialIDLength {
			continue
		}
		out = append(out, u2f.CredentialDescriptor{Type: u2f.CredentialType, ID: k.KeyHandle})
	}
	return out
}

// refuseKnownCTAP2 asks the key, with silent assertions ("up": false,
// §6.2.2: no touch, as platforms probe a long excludeList), whether it
// holds any of creds, and names the holder. It asks only when probe is
// set: a list that fits one request goes to the key as its excludeList.
func refuseKnownCTAP2(ctx context.Context, dev CTAP2Authenticator, info *u2f.AuthenticatorInfo, rpID string, creds []u2f.CredentialDescriptor, known []inventory.Key, probe bool) error {
	if !probe {
		return nil
	}
	id, err := probeCredentials(ctx, dev, info, rpID, creds)
	if err != nil || id == nil {
		return err
	}
	for _, k := range known {
		if k.Kind == inventory.KeyCTAP2 && string(k.KeyHandle) == string(id) {
			return registeredTo(k)
		}
	}
	return fmt.Errorf("%w: the key holds a credential registered for %s", verify.ErrKeyRegistered, rpID)
}

// probeCredentials returns the id of the first of creds the key holds,
// nil if none, asking in lists of the size the key takes.
func probeCredentials(ctx context.Context, dev CTAP2Authenticator, info *u2f.AuthenticatorInfo, rpID string, creds []u2f.CredentialDescriptor) ([]byte, error) {
	n := listSize(info)
	var probe [32]byte // no ceremony: nothing is signed for anyone to check
	for i := 0; i < len(creds); i += n {
		chunk := creds[i:min(i+n, len(creds))]
		a, err := dev.GetAssertion(ctx, &u2f.GetAssertionRequest{RPID: rpID, ClientDataHash: probe[:], AllowList: chunk,
			Options: map[string]bool{"up": false}}, nil)
		switch {
		case errors.Is(err, u2f.ErrNoCredentials):
			continue
		case err != nil:
			return nil, fmt.Errorf("asking the key about registered credentials: %w", err)
		case a.Credential == nil:
			return nil, errors.New("asking the key about registered credentials: it answered without naming one")
		}
		return a.Credential.ID, nil
	}
	return nil, nil
}

// testCTAP2 asks the key for an assertion of one of the user's
// credentials (CTAP 2.1 §6.2), relying party by relying party, and has
// verify judge it as a WebAuthn login. found is false when the key holds
// none of them.
func (d *Desk) testCTAP2(ctx context.Context, dev Device, u inventory.User, keys []inventory.Key, rules KeyRules, from verify.Origin) (dec verify.Decision, found bool, err error) {
	info, err := dev.CTAP2.GetInfo(ctx)
	if err != nil {
		return verify.Decision{}, false, err
	}
	// Each credential is asked for under its own relying party, whatever
	// the rules name now: a test says whether the key works where it was
	// registered.
	var rps []string
	for _, k := range keys {
		if !contains(rps, k.RPID) {
			rps = append(rps, k.RPID)
		}
	}
	for _, rp := range rps {
		creds := credentialsOf(keys, rp, info)
		if len(creds) == 0 {
			continue
		}
		if len(creds) > listSize(info) {
			id, err := probeCredentials(ctx, dev.CTAP2, info, rp, creds)
			if err != nil {
				return verify.Decision{}, false, err
			}
			if id == nil {
				continue
			}
			creds = []u2f.CredentialDescriptor{{Type: u2f.CredentialType, ID: id}}
		}
		dec, found, err := d.assert(ctx, dev, info, u, keys, rp, creds, rules, from)
		if err != nil || found {
			return dec, found, err
		}
	}
	return verify.Decision{}, false, nil
}

// assert asks for the assertion of one of creds and judges it; found is
// false when the key holds none.
func (d *Desk) assert(ctx context.Context, dev Device, info *u2f.AuthenticatorInfo, u inventory.User, keys []inventory.Key,
	rp string, creds []u2f.CredentialDescriptor, rules KeyRules, from verify.Origin) (verify.Decision, bool, error) {
	// A test needs the PIN only when the rules or the key insist: a key
	// with a PIN signs without it otherwise.
	tok, uv, err := unlock(ctx, dev, info, u2f.PermGetAssertion, rp, rules.RequirePIN || info.Options["alwaysUv"])
	if err != nil {
		return verify.Decision{}, false, err
	}
	cd, err := d.clientData("webauthn.get", rules.origin(rp))
	if err != nil {
		return verify.Decision{}, false, err
	}
	ga := &u2f.GetAssertionRequest{RPID: rp, ClientDataHash: cd.hash[:], AllowList: creds}
	if uv {
		ga.Options = map[string]bool{"uv": true}
	}
	a, err := dev.CTAP2.GetAssertion(ctx, ga, tok)
	if errors.Is(err, u2f.ErrNoCredentials) {
		return verify.Decision{}, false, nil
	}
	if err != nil {
		return verify.Decision{}, false, err
	}
	if a.Credential == nil {
		return verify.Decision{}, false, errors.New("the key answered without naming its credential")
	}
	var key *inventory.Key
	for i := range keys {
		if keys[i].RPID == rp && string(keys[i].KeyHandle) == string(a.Credential.ID) {
			key = &keys[i]
		}
	}
	if key == nil {
		return verify.Decision{}, false, fmt.Errorf("the key answered with a credential keydesk did not ask for")
	}
	in := verify.WebAuthnAssertion{AuthenticatorData: a.AuthData.Raw, Signature: a.Signature, ClientDataJSON: cd.json,
		Challenge: cd.challenge, Origins: []string{cd.origin}, RPID: rp, RequireUV: rules.RequirePIN}
	var dec verify.Decision
	err = d.update(ctx, func(tx *inventory.Tx) error {
		// As for U2F: the counter is judged against the row as it is now.
		current, err := tx.UserKey(u.ID, fmt.Sprint(key.ID))
		if err != nil {
			return err
		}
		if dec, err = judgeAssertion(current, in, a.AuthData.SignCount); err != nil {
			return err
		}
		return d.judged(tx, u, current, a.AuthData.SignCount, from, dec)
	})
	if err != nil {
		return verify.Decision{}, true, err
	}
	return dec, true, nil
}

// judgeAssertion turns verify's check of a login into a decision: a bad
// signature, a missing touch or PIN, or a counter that did not grow is a
// denial; a stored key keydesk cannot use is an error, no decision.
func judgeAssertion(k inventory.Key, in verify.WebAuthnAssertion, counter uint32) (verify.Decision, error) {
	cred := verify.WebAuthnCredential{ID: k.KeyHandle, PublicKey: k.COSEKey, Algorithm: k.Algorithm, SignCount: k.Counter}
	dec := verify.Decision{Method: "key", KeyID: k.ID, KeyName: k.Name, KeyModel: k.Model, Counter: counter}
	_, err := verify.CheckWebAuthnAssertion(cred, in)
	switch {
	case err == nil:
		dec.Allow = true
		return dec, nil
	case errors.Is(err, verify.ErrBadSignature), errors.Is(err, verify.ErrNoPresence), errors.Is(err, verify.ErrCounter),
		errors.Is(err, verify.ErrNoUserVerification), errors.Is(err, verify.ErrWrongRelyingParty),
		errors.Is(err, verify.ErrClientData), errors.Is(err, verify.ErrMalformedAnswer):
		dec.Denial = err
		return dec, nil
	}
	return verify.Decision{}, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
