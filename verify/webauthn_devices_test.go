package verify_test

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/keydesk/keydesk/verify"
)

// TestWebAuthnRealKeys registers what real security keys sent browsers
// (testdata/webauthn/devices.txt).
func TestWebAuthnRealKeys(t *testing.T) {
	dev := readVectors(t, "../testdata/webauthn/devices.txt")
	registration := func(v map[string][]byte) verify.WebAuthnRegistration {
		return verify.WebAuthnRegistration{AttestationObject: v["attestationObject"], ClientDataJSON: v["clientDataJSON"],
			Challenge: v["challenge"], Origins: []string{string(v["origin"])}, RPID: string(v["rpID"])}
	}
	builtin, err := verify.BuiltinTrustStore()
	if err != nil {
		t.Fatal(err)
	}

	// A Security Key by Yubico, fido-u2f, chains to Yubico's U2F root
	// that keydesk ships.
	c, a, err := verify.CheckWebAuthnRegistration(registration(dev["yubico-u2f"]), verify.RegistrationPolicy{Trust: builtin, RequireTrusted: true}, specNow)
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != "trusted" || a.Model != "Security Key by Yubico" || c.Format != "fido-u2f" || len(c.ID) != 64 {
		t.Errorf("Yubico: %+v", a)
	}

	// A Feitian BioPass, packed with its whole chain: trusted once its
	// root is, and its AAGUID read from the key and the certificate.
	v := dev["feitian-biopass"]
	_, _, err = verify.CheckWebAuthnRegistration(registration(v), verify.RegistrationPolicy{Trust: builtin, RequireTrusted: true}, specNow)
	if !errors.Is(err, verify.ErrUntrusted) {
		t.Errorf("Feitian with Yubico's root: %v", err)
	}
	c, _, err = verify.CheckWebAuthnRegistration(registration(v), verify.RegistrationPolicy{}, specNow)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(c.Chain[len(c.Chain)-1])
	if err != nil {
		t.Fatal(err)
	}
	feitian, err := verify.NewTrustStore(pemCert(root.Raw))
	if err != nil {
		t.Fatal(err)
	}
	_, a, err = verify.CheckWebAuthnRegistration(registration(v), verify.RegistrationPolicy{Trust: feitian, RequireTrusted: true}, specNow)
	if err != nil || a.Result != "trusted" || a.AAGUID != "42383245-4437-3343-3846-423445354132" || root.Subject.CommonName != "Feitian FIDO Root CA" {
		t.Errorf("Feitian: %+v %v (root %q)", a, err, root.Subject.CommonName)
	}

	// A Solo 2 sends its attestation certificate alone: it verifies, and
	// without SoloKeys' root it is untrusted.
	c, a, err = verify.CheckWebAuthnRegistration(registration(dev["solo2"]), verify.RegistrationPolicy{Trust: builtin}, specNow)
	if err != nil || a.Result != "untrusted" || c.Algorithm != algEdDSA || len(c.Chain) != 1 {
		t.Errorf("Solo 2: %+v %+v %v", a, c, err)
	}
}
