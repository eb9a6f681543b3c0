package softkey

import (
	"bytes"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/keydesk/keydesk/u2f"
)

// TestGoWebAuthn has go-webauthn, the relying party library, read the
// soft key's authenticator data and verify its assertions with the
// credential keys it attested, ES256 and EdDSA.
func TestGoWebAuthn(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	for _, alg := range []u2f.COSEAlgorithm{u2f.ES256, u2f.EdDSA} {
		req := mcRequest("alice", false)
		req.PubKeyCredParams = []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: alg}}
		att := must[*u2f.Attestation](t)(makeCred(t, r, c, req, nil))
		var ad protocol.AuthenticatorData
		if err := ad.Unmarshal(att.AuthData.Raw); err != nil {
			t.Fatalf("%v: go-webauthn refuses the authenticator data: %v", alg, err)
		}
		if !ad.Flags.HasAttestedCredentialData() || !ad.Flags.HasUserPresent() || !bytes.Equal(ad.AttData.AAGUID, AAGUID[:]) ||
			!bytes.Equal(ad.AttData.CredentialID, att.AuthData.Credential.ID) || ad.Counter != att.AuthData.SignCount {
			t.Errorf("%v: go-webauthn read %+v", alg, ad)
		}
		key, err := webauthncose.ParsePublicKey(ad.AttData.CredentialPublicKey)
		if err != nil {
			t.Fatalf("%v: %v", alg, err)
		}
		a := must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(att.AuthData.Credential.ID), nil))
		ok, err := webauthncose.VerifySignature(key, a.SignedData(cdh[:]), a.Signature)
		if err != nil || !ok {
			t.Errorf("%v: go-webauthn does not verify the assertion: %v, %v", alg, ok, err)
		}
		ok, _ = webauthncose.VerifySignature(key, a.SignedData(make([]byte, 32)), a.Signature)
		if ok {
			t.Errorf("%v: verifies over another clientDataHash", alg)
		}
	}
}
