package softkey

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"github.com/keydesk/keydesk/u2f"
)

// credentialManagement follows CTAP 2.1 §6.8, for both command bytes
// (0x0A and the prototype 0x41).
func (k *Key) credentialManagement(params []byte) answer {
	r, err := u2f.ParseCredentialManagementRequest(params)
	if err != nil {
		k.next = nil
		return statusOnly(k.codeOf(err))
	}
	switch r.Subcommand {
	case u2f.CredMgmtEnumerateRPsGetNext:
		return k.takeNext("rp")
	case u2f.CredMgmtEnumerateCredsGetNext:
		return k.takeNext("credential")
	}
	k.next = nil
	if r.PinUVAuthParam == nil {
		return statusOnly(u2f.ErrPUATRequired)
	}
	rpID := "" // the RP ID a token bound to one may serve here
	if r.Params != nil && r.Subcommand == u2f.CredMgmtEnumerateCredsBegin {
		rpID = k.rpIDOf(r.Params.RPIDHash)
	}
	if code := k.usesToken(r.Protocol, r.PinUVAuthParam, r.AuthMessage(), u2f.PermCredentialManagement, rpID); code != 0 {
		return statusOnly(code)
	}
	switch r.Subcommand {
	case u2f.CredMgmtGetCredsMetadata:
		existing, remaining := uint64(len(k.st.creds)), uint64(maxResident-len(k.st.creds))
		return k.credAnswer(&u2f.CredentialManagementResponse{ExistingResidentCredentialsCount: &existing, MaxPossibleRemainingResidentCredentialsCount: &remaining})
	case u2f.CredMgmtEnumerateRPsBegin:
		return k.enumerateRPs()
	case u2f.CredMgmtEnumerateCredsBegin:
		if r.Params == nil || len(r.Params.RPIDHash) != 32 {
			return statusOnly(u2f.ErrMissingParameter)
		}
		return k.enumerateCredentials(r.Params.RPIDHash)
	case u2f.CredMgmtDeleteCredential:
		if r.Params == nil || r.Params.CredentialID == nil {
			return statusOnly(u2f.ErrMissingParameter)
		}
		return statusOnly(k.deleteCredential(r.Params.CredentialID.ID))
	}
	return statusOnly(u2f.ErrInvalidSubcommand)
}

func (k *Key) credAnswer(r *u2f.CredentialManagementResponse) answer {
	return now(k.reply(r.Marshal()))
}

func (k *Key) rpIDOf(hash []byte) string {
	for _, c := range k.st.creds {
		if h := sha256.Sum256([]byte(c.RPID)); bytes.Equal(h[:], hash) {
			return c.RPID
		}
	}
	return ""
}

func (k *Key) enumerateRPs() answer {
	var rps []*residentCred
	for _, c := range k.st.creds {
		if !slices.ContainsFunc(rps, func(o *residentCred) bool { return o.RPID == c.RPID }) {
			rps = append(rps, c)
		}
	}
	if len(rps) == 0 {
		return statusOnly(u2f.ErrNoCredentials)
	}
	var items [][]byte
	for i, c := range rps {
		h := sha256.Sum256([]byte(c.RPID))
		resp := &u2f.CredentialManagementResponse{RP: &u2f.RelyingParty{ID: c.RPID, Name: c.RPName}, RPIDHash: h[:]}
		if i == 0 {
			resp.TotalRPs = uint64(len(rps))
		}
		items = append(items, k.reply(resp.Marshal()))
	}
	k.iterate("rp", items[1:])
	return now(items[0])
}

func (k *Key) enumerateCredentials(rpIDHash []byte) answer {
	var items [][]byte
	var matching []*residentCred
	for _, c := range k.st.creds {
		if h := sha256.Sum256([]byte(c.RPID)); bytes.Equal(h[:], rpIDHash) {
			matching = append(matching, c)
		}
	}
	if len(matching) == 0 {
		return statusOnly(u2f.ErrNoCredentials)
	}
	for i, c := range matching {
		cred, err := k.residentCredential(c)
		if err != nil {
			return statusOnly(k.codeOf(err))
		}
		pub, err := u2f.NewCOSEKey(cred.signer.Public())
		if err != nil {
			return statusOnly(k.codeOf(err))
		}
		user := c.User
		resp := &u2f.CredentialManagementResponse{User: &user, CredentialID: &u2f.CredentialDescriptor{Type: u2f.CredentialType, ID: c.ID},
			PublicKey: pub, CredProtect: cred.protect}
		if i == 0 {
			resp.TotalCredentials = uint64(len(matching))
		}
		items = append(items, k.reply(resp.Marshal()))
	}
	k.iterate("credential", items[1:])
	return now(items[0])
}

func (k *Key) deleteCredential(id []byte) u2f.CTAP2Error {
	i := slices.IndexFunc(k.st.creds, func(c *residentCred) bool { return bytes.Equal(c.ID, id) })
	if i < 0 {
		return u2f.ErrNoCredentials
	}
	old := k.st.creds
	k.st.creds = slices.Delete(slices.Clone(old), i, i+1)
	if err := k.save(); err != nil {
		k.st.creds = old
		return k.codeOf(err)
	}
	k.log.Info("deleted resident credential", "rp", old[i].RPID)
	return 0
}

// config follows CTAP 2.1 §6.11. A key with a PIN wants a token with the
// acfg permission; one without takes the request as it is (§6.11 step 3).
func (k *Key) config(params []byte) answer {
	r, err := u2f.ParseConfigRequest(params)
	if err != nil {
		return statusOnly(k.codeOf(err))
	}
	if k.st.pinHash != nil || r.PinUVAuthParam != nil {
		if r.PinUVAuthParam == nil {
			return statusOnly(u2f.ErrPUATRequired)
		}
		if code := k.usesToken(r.Protocol, r.PinUVAuthParam, r.AuthMessage(), u2f.PermAuthenticatorConfig, ""); code != 0 {
			return statusOnly(code)
		}
	}
	old := *k.st
	switch r.Subcommand {
	case u2f.ConfigToggleAlwaysUV:
		k.st.alwaysUV = !k.st.alwaysUV
	case u2f.ConfigSetMinPINLength:
		p := r.Params
		if p == nil {
			p = &u2f.SetMinPINLengthParams{}
		}
		n := int(min(p.NewMinPINLength, u2f.MaxPINBytes+1))
		if n == 0 {
			n = k.st.minPINLength
		}
		switch {
		case n < k.st.minPINLength || n > u2f.MaxPINBytes:
			return statusOnly(u2f.ErrPINPolicyViolation) // §6.11.4: it only grows
		case p.ForceChangePIN && k.st.pinHash == nil:
			return statusOnly(u2f.ErrPINNotSet)
		}
		k.st.minPINLength = n
		if p.ForceChangePIN || (k.st.pinHash != nil && k.st.pinLength < n) {
			k.st.forcePINChange = true
		}
	default:
		return statusOnly(u2f.ErrInvalidSubcommand)
	}
	if err := k.save(); err != nil {
		*k.st = old
		return statusOnly(k.codeOf(err))
	}
	return statusOnly(0)
}
