package verify_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keydesk/keydesk/verify"
)

// Every refusal of a WebAuthn check wraps one of these.
var webauthnErrors = []error{
	verify.ErrMalformedAnswer, verify.ErrWrongRelyingParty, verify.ErrClientData, verify.ErrNoPresence,
	verify.ErrNoUserVerification, verify.ErrAlgorithm, verify.ErrBadAttestation, verify.ErrBadSignature,
	verify.ErrUntrusted, verify.ErrModelNotAllowed, verify.ErrModelRevoked, verify.ErrMDSStale, verify.ErrCounter,
}

func knownError(err error) bool {
	for _, e := range webauthnErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzCheckWebAuthnRegistration feeds attestation objects, which come
// from the key, seeded with the spec's examples and real keys': a refusal is one of the known errors with nothing else; a
// registration is whole and shares no bytes with the input.
func FuzzCheckWebAuthnRegistration(f *testing.F) {
	vec := readSpecVectors(f)
	for _, name := range []string{"none-es256", "packed-self-es256", "packed-es256", "packed-eddsa", "packed-es384", "fido-u2f-es256"} {
		h := sha256.Sum256(vec[name]["reg.clientDataJSON"])
		f.Add(vec[name]["reg.attestationObject"], h[:], "example.org")
	}
	for _, d := range readVectors(f, "../testdata/webauthn/devices.txt") {
		h := sha256.Sum256(d["clientDataJSON"])
		f.Add(d["attestationObject"], h[:], string(d["rpID"]))
	}
	v := newVendor(f, "Fuzz Vendor", specNow.AddDate(1, 0, 0), keyAAGUID[:])
	for _, format := range []string{"packed", "packed-self", "none"} {
		m := mint{key: newTestKey(f, algES256), aaguid: keyAAGUID, rpID: "example.org", flags: flagUP | flagUV | flagAT, format: format, vendor: v, hash: deskHash}
		f.Add(m.object(f), deskHash, "example.org")
	}
	f.Add([]byte{0xa0}, deskHash, "example.org")
	ts, err := verify.NewTrustStore(pemCert(vec["ca"]["cert"]), v.rootPEM)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, obj, hash []byte, rpID string) {
		in := verify.WebAuthnRegistration{AttestationObject: bytes.Clone(obj), ClientDataHash: hash, RPID: rpID}
		c, a, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{Trust: ts}, specNow)
		if err != nil {
			if !knownError(err) || c.ID != nil || c.PublicKey != nil || c.Chain != nil || c.Format != "" || a != (verify.Attestation{}) {
				t.Fatalf("refusal %v with %+v %+v", err, c, a)
			}
			return
		}
		switch a.Result {
		case "trusted", "trusted, expired", "untrusted", "self", "none":
		default:
			t.Fatalf("result %q", a.Result)
		}
		if len(c.ID) == 0 || len(c.PublicKey) == 0 || (c.Algorithm != algES256 && c.Algorithm != algEdDSA && c.Algorithm != algRS256) {
			t.Fatalf("credential %+v", c)
		}
		id, key := bytes.Clone(c.ID), bytes.Clone(c.PublicKey)
		clear(in.AttestationObject)
		if !bytes.Equal(id, c.ID) || !bytes.Equal(key, c.PublicKey) {
			t.Fatal("the credential shares bytes with the key's answer")
		}
	})
}

// FuzzCheckWebAuthnAssertion feeds logins by the spec's none-es256 key.
func FuzzCheckWebAuthnAssertion(f *testing.F) {
	vec := readSpecVectors(f)
	v := vec["none-es256"]
	cred, _, err := verify.CheckWebAuthnRegistration(specRegistration(v), verify.RegistrationPolicy{}, specNow)
	if err != nil {
		f.Fatal(err)
	}
	h := sha256.Sum256(v["auth.clientDataJSON"])
	f.Add(v["auth.authenticatorData"], v["auth.signature"], h[:])
	f.Add(v["auth.authenticatorData"][:37], []byte{0x30, 0}, h[:])
	f.Fuzz(func(t *testing.T, ad, sig, hash []byte) {
		use, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{AuthenticatorData: ad, Signature: sig, ClientDataHash: hash, RPID: "example.org"})
		if err != nil && (!knownError(err) || use != (verify.KeyUse{})) {
			t.Fatalf("refusal %v with %+v", err, use)
		}
	})
}

// FuzzParseMDS feeds BLOBs: a refusal returns no MDS; an MDS has its
// serial and due date.
func FuzzParseMDS(f *testing.F) {
	td := loadTestMDS(f, mdsDir)
	for _, name := range []string{"blob.jwt", "blob-stale.jwt", "blob-badsig.jwt", "blob-untrusted.jwt"} {
		b, err := os.ReadFile(filepath.Join(mdsDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("e30.e30.e30"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		m, err := verify.ParseMDSWithGrace(blob, td.roots, mdsNow, 0)
		if err != nil {
			if m != nil || !(errors.Is(err, verify.ErrBadMDS) || errors.Is(err, verify.ErrMDSUntrusted) || errors.Is(err, verify.ErrMDSStale)) {
				t.Fatalf("refusal %v with %v", err, m)
			}
			return
		}
		if m.NextUpdate.IsZero() || m.Signer == "" {
			t.Fatalf("an MDS without its due date or signer: %+v", m)
		}
	})
}
