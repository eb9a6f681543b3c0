package softkey

import (
	"bytes"
	"crypto/sha256"
	"io"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/keydesk/keydesk/u2f"
)

// verification is what a request proved about the user before the touch.
type verification struct {
	uv bool // the PIN was shown, through a pinUvAuthParam
}

// emptyAuthParam is the "which key is it?" probe of CTAP 2.1 §6.1.2 step
// 1 and §6.2.2 step 1: a zero-length pinUvAuthParam asks for a touch,
// then for the PIN's state.
func (k *Key) emptyAuthParam() answer {
	return answer{touch: func() []byte {
		if k.st.pinHash == nil {
			return []byte{byte(u2f.ErrPINNotSet)}
		}
		return []byte{byte(u2f.ErrPINInvalid)}
	}}
}

// verify decides user verification for makeCredential and getAssertion
// (§6.1.2 steps 4 to 11, §6.2.2 steps 4 to 6). needUV is whether the
// request cannot go on without it.
func (k *Key) verify(opts map[string]bool, param []byte, proto u2f.PINProtocol, cdh []byte, perm u2f.Permission, rpID string, needUV bool) (verification, u2f.CTAP2Error) {
	if opts["uv"] {
		return verification{}, u2f.ErrInvalidOption // no built-in user verification
	}
	if param == nil {
		if needUV || k.st.alwaysUV {
			if k.st.pinHash == nil {
				return verification{}, u2f.ErrPINNotSet
			}
			return verification{}, u2f.ErrPUATRequired
		}
		return verification{}, 0
	}
	if code := k.usesToken(proto, param, cdh, perm, rpID); code != 0 {
		return verification{}, code
	}
	return verification{uv: true}, 0
}

// makeCredential follows CTAP 2.1 §6.1.2.
func (k *Key) makeCredential(params []byte) answer {
	r, err := u2f.ParseMakeCredentialRequest(params)
	if err != nil {
		return statusOnly(k.codeOf(err))
	}
	if r.PinUVAuthParam != nil && len(r.PinUVAuthParam) == 0 {
		return k.emptyAuthParam()
	}
	alg, ok := pickAlgorithm(r.PubKeyCredParams)
	if !ok {
		return statusOnly(u2f.ErrUnsupportedAlgorithm)
	}
	if up, set := r.Options["up"]; set && !up {
		return statusOnly(u2f.ErrInvalidOption)
	}
	rk := r.Options["rk"]
	// makeCredUvNotRqd: with a PIN set, a non-discoverable credential
	// needs no PIN; a discoverable one does.
	v, code := k.verify(r.Options, r.PinUVAuthParam, r.PinUVAuthProtocol, r.ClientDataHash, u2f.PermMakeCredential, r.RP.ID, k.st.pinHash != nil && rk)
	if code != 0 {
		return statusOnly(code)
	}
	if len(r.ExcludeList) > maxCredentialsInList {
		return statusOnly(u2f.ErrLimitExceeded)
	}
	rpIDHash := sha256.Sum256([]byte(r.RP.ID))
	for _, d := range r.ExcludeList {
		c, err := k.findCredential(r.RP.ID, rpIDHash[:], d.ID)
		if err == nil && (c.protect != u2f.CredProtectUVRequired || v.uv) {
			// §6.1.2 step 11: the user says so with a touch, then the
			// platform learns the key is already registered.
			return answer{touch: func() []byte { return []byte{byte(u2f.ErrCredentialExcluded)} }}
		}
	}
	protect := u2f.CredProtect(0)
	if r.Extensions != nil {
		protect = r.Extensions.CredProtect
	}
	if rk && len(k.st.creds) >= maxResident && !slices.ContainsFunc(k.st.creds, sameAccount(r.RP.ID, r.User.ID)) {
		return statusOnly(u2f.ErrKeyStoreFull)
	}
	return answer{touch: func() []byte {
		resp, err := k.newCredential(r, alg, protect, rk, v, rpIDHash)
		if err != nil {
			return []byte{byte(k.codeOf(err))}
		}
		return resp
	}}
}

// pickAlgorithm takes the first entry the key supports (§6.1.2 step 3).
func pickAlgorithm(params []u2f.CredentialParameter) (u2f.COSEAlgorithm, bool) {
	for _, p := range params {
		if p.Type == u2f.CredentialType && (p.Alg == u2f.ES256 || p.Alg == u2f.EdDSA) {
			return p.Alg, true
		}
	}
	return 0, false
}

func sameAccount(rpID string, userID []byte) func(*residentCred) bool {
	return func(c *residentCred) bool { return c.RPID == rpID && bytes.Equal(c.User.ID, userID) }
}

// newCredential makes the credential after the touch, stores it if
// resident, and attests it: packed, signed by the attestation key over
// authData || clientDataHash, with the packed certificate as x5c.
func (k *Key) newCredential(r *u2f.MakeCredentialRequest, alg u2f.COSEAlgorithm, protect u2f.CredProtect, rk bool, v verification, rpIDHash [32]byte) ([]byte, error) {
	priv, signer, err := newCredentialKey(k.cfg.Rand, alg)
	if err != nil {
		return nil, err
	}
	pub, err := u2f.NewCOSEKey(signer.Public())
	if err != nil {
		return nil, err
	}
	old := *k.st
	var id []byte
	if rk {
		id = make([]byte, residentIDSize)
		id[0] = residentFormat
		if _, err := io.ReadFull(k.cfg.Rand, id[1:]); err != nil {
			return nil, err
		}
		// §6.1.2 step 14: a new credential for the same account replaces
		// the old one.
		creds := slices.DeleteFunc(slices.Clone(k.st.creds), sameAccount(r.RP.ID, r.User.ID))
		k.st.creds = append(creds, &residentCred{ID: id, RPID: r.RP.ID, RPName: r.RP.Name, User: r.User, Alg: alg,
			Private: priv, CredProtect: protect, Created: k.cfg.Clock.Now()})
	} else if id, err = k.wrapCredential(rpIDHash[:], alg, protect, priv); err != nil {
		return nil, err
	}
	k.st.counter++
	if err := k.save(); err != nil {
		*k.st = old
		return nil, err
	}
	ad := &u2f.AuthenticatorData{RPIDHash: rpIDHash, Flags: u2f.FlagUserPresent, SignCount: k.st.counter,
		Credential: &u2f.AttestedCredential{AAGUID: AAGUID, ID: id, PublicKey: pub}}
	if v.uv {
		ad.Flags |= u2f.FlagUserVerified
		k.pin.permissions &^= u2f.PermMakeCredential | u2f.PermGetAssertion // step 17: a token serves one request
	}
	if protect != 0 {
		// A uint below 24 is its own one-byte CBOR encoding.
		ad.Extensions = map[string]cbor.RawMessage{u2f.ExtCredProtect: {byte(protect)}}
	}
	if ad.Raw, err = ad.Marshal(); err != nil {
		return nil, err
	}
	sig, err := k.sign(k.st.attKey, append(append([]byte(nil), ad.Raw...), r.ClientDataHash...))
	if err != nil {
		return nil, err
	}
	st, err := u2f.NewPackedStatement(u2f.ES256, sig, [][]byte{k.st.packedCert})
	if err != nil {
		return nil, err
	}
	k.log.Info("made credential", "rp", r.RP.ID, "resident", rk, "alg", alg.String(), "counter", k.st.counter)
	att := &u2f.Attestation{Format: u2f.FormatPacked, AuthData: ad, Statement: st}
	return k.reply(att.Marshal()), nil
}
