package softkey

import (
	"crypto/sha256"
	"slices"

	"github.com/keydesk/keydesk/u2f"
)

// getAssertion follows CTAP 2.1 §6.2.2.
func (k *Key) getAssertion(params []byte) answer {
	r, err := u2f.ParseGetAssertionRequest(params)
	if err != nil {
		return statusOnly(k.codeOf(err))
	}
	if r.PinUVAuthParam != nil && len(r.PinUVAuthParam) == 0 {
		return k.emptyAuthParam()
	}
	if _, set := r.Options["rk"]; set {
		return statusOnly(u2f.ErrUnsupportedOption) // step 5: rk is not an option here
	}
	up := true
	if v, set := r.Options["up"]; set {
		up = v
	}
	v, code := k.verify(r.Options, r.PinUVAuthParam, r.PinUVAuthProtocol, r.ClientDataHash, u2f.PermGetAssertion, r.RPID, false)
	if code != 0 {
		return statusOnly(code)
	}
	if len(r.AllowList) > maxCredentialsInList {
		return statusOnly(u2f.ErrLimitExceeded)
	}
	creds := k.locate(r, v)
	if len(creds) == 0 {
		return statusOnly(u2f.ErrNoCredentials)
	}
	sign := func() []byte {
		items, err := k.assertions(r, creds, up, v)
		if err != nil {
			return []byte{byte(k.codeOf(err))}
		}
		k.iterate("assertion", items[1:])
		return items[0]
	}
	if !up {
		return now(sign())
	}
	return answer{touch: sign}
}

// locate finds the credentials a request may use (§6.2.2 step 7): those
// of the allowList that are ours for the site, or else the site's
// discoverable credentials, newest first, as credProtect allows without
// user verification.
func (k *Key) locate(r *u2f.GetAssertionRequest, v verification) []*credential {
	rpIDHash := sha256.Sum256([]byte(r.RPID))
	var out []*credential
	if r.AllowList != nil {
		for _, d := range r.AllowList {
			c, err := k.findCredential(r.RPID, rpIDHash[:], d.ID)
			if err == nil && (v.uv || c.protect < u2f.CredProtectUVRequired) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, rc := range slices.Backward(k.st.creds) {
		if rc.RPID != r.RPID {
			continue
		}
		c, err := k.residentCredential(rc)
		if err == nil && (v.uv || c.protect < u2f.CredProtectUVOptionalWithList) {
			out = append(out, c)
		}
	}
	return out
}

// assertions signs with every located credential, each with its own
// count, and returns the encoded answers; the first goes out now and
// getNextAssertion hands out the others.
func (k *Key) assertions(r *u2f.GetAssertionRequest, creds []*credential, up bool, v verification) ([][]byte, error) {
	rpIDHash := sha256.Sum256([]byte(r.RPID))
	flags := u2f.AuthDataFlags(0)
	if up {
		flags |= u2f.FlagUserPresent
	}
	if v.uv {
		flags |= u2f.FlagUserVerified
		k.pin.permissions &^= u2f.PermMakeCredential | u2f.PermGetAssertion // a token serves one request
	}
	if r.AllowList != nil {
		creds = creds[:1] // §6.2.2 step 7: with an allowList, one assertion
	}
	old := k.st.counter
	k.st.counter += uint32(len(creds))
	if err := k.save(); err != nil {
		k.st.counter = old
		return nil, err
	}
	var items [][]byte
	for i, c := range creds {
		ad := &u2f.AuthenticatorData{RPIDHash: rpIDHash, Flags: flags, SignCount: old + uint32(i) + 1}
		raw, err := ad.Marshal()
		if err != nil {
			return nil, err
		}
		ad.Raw = raw
		sig, err := signWith(k.cfg.Rand, c.signer, append(append([]byte(nil), raw...), r.ClientDataHash...))
		if err != nil {
			return nil, err
		}
		a := &u2f.Assertion{Credential: &u2f.CredentialDescriptor{Type: u2f.CredentialType, ID: c.id}, AuthData: ad, Signature: sig}
		if c.resident != nil {
			// §6.2.2 step 12: without user verification, only the user
			// handle; names only to a verified user.
			a.User = &u2f.User{ID: c.resident.User.ID}
			if v.uv {
				a.User = &c.resident.User
			}
		}
		if i == 0 && len(creds) > 1 {
			a.NumberOfCredentials = len(creds)
		}
		items = append(items, k.reply(a.Marshal()))
	}
	k.log.Info("assertion", "rp", r.RPID, "credentials", len(creds), "counter", k.st.counter)
	return items, nil
}

// getNextAssertion follows §6.3.
func (k *Key) getNextAssertion() answer { return k.takeNext("assertion") }
