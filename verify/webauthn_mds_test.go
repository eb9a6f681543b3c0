package verify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// TestWebAuthnRegistrationWithMDS: the MDS names the model, refuses the
// revoked and compromised ones, and its roots make the Test Vendor's keys
// trusted although no trust store holds the vendor's root.
func TestWebAuthnRegistrationWithMDS(t *testing.T) {
	td := loadTestMDS(t, mdsDir)
	mds, err := verify.ParseMDS(td.blob, td.roots, mdsNow)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := verify.NewTrustStore()
	if err != nil {
		t.Fatal(err)
	}
	// packed is a registration by a Test Vendor key of model aaguid with
	// its own attestation certificate under the vendor's root.
	packed := func(aaguid u2f.AAGUID, format string) mint {
		v := *td.vendor
		v.attKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		v.attCert = v.issue(t, &v.attKey.PublicKey, aaguid[:], false)
		return mint{key: newTestKey(t, algES256), aaguid: aaguid, rpID: "example.edu", flags: flagUP | flagAT, format: format, vendor: &v, hash: deskHash}
	}
	u2fKey := mint{key: newTestKey(t, algES256), rpID: "example.edu", flags: flagUP | flagAT, format: "fido-u2f", vendor: td.vendor, hash: deskHash}
	at := mdsNow.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		m      mint
		p      verify.RegistrationPolicy
		when   time.Time
		want   error
		result string
		model  string
	}{
		{"certified model, trusted by the MDS roots", packed(certifiedAAGUID, "packed"), verify.RegistrationPolicy{Trust: empty, MDS: mds, RequireTrusted: true}, at,
			nil, "trusted", "Test Vendor Key 5 (certified)"},
		{"the same without the MDS", packed(certifiedAAGUID, "packed"), verify.RegistrationPolicy{Trust: empty, RequireTrusted: true}, at,
			verify.ErrUntrusted, "", ""},
		{"the MDS roots of one model do not vouch for another", packed(otherAAGUID, "packed"), verify.RegistrationPolicy{Trust: empty, MDS: mds, RequireTrusted: true}, at,
			verify.ErrUntrusted, "", ""},
		{"revoked model", packed(revokedAAGUID, "packed"), verify.RegistrationPolicy{MDS: mds}, at, verify.ErrModelRevoked, "", ""},
		{"revoked model claimed without attestation", packed(revokedAAGUID, "none"), verify.RegistrationPolicy{MDS: mds}, at, verify.ErrModelRevoked, "", ""},
		{"compromised model, firmware update since", packed(compromisedAAGUID, "packed"), verify.RegistrationPolicy{MDS: mds}, at, verify.ErrModelRevoked, "", ""},
		{"UV bypass, entry read in part", packed(bypassAAGUID, "packed-self"), verify.RegistrationPolicy{MDS: mds}, at, verify.ErrModelRevoked, "", ""},
		{"soft key, self attestation", packed(softKeyAAGUID, "packed-self"), verify.RegistrationPolicy{MDS: mds}, at,
			nil, "self", "keydesk soft key"},
		{"U2F model by its attestation key", u2fKey, verify.RegistrationPolicy{Trust: empty, MDS: mds, RequireTrusted: true}, at,
			nil, "trusted", "Test Vendor U2F Key"},
		{"the BLOB went stale", packed(certifiedAAGUID, "packed"), verify.RegistrationPolicy{MDS: mds}, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC),
			verify.ErrMDSStale, "", ""},
		{"stale, within the grace", packed(certifiedAAGUID, "packed"), verify.RegistrationPolicy{MDS: mds, MDSGrace: 60 * 24 * time.Hour}, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC),
			nil, "trusted", "Test Vendor Key 5 (certified)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := verify.WebAuthnRegistration{AttestationObject: tc.m.object(t), ClientDataHash: deskHash, RPID: "example.edu"}
			_, a, err := verify.CheckWebAuthnRegistration(in, tc.p, tc.when)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if a.Result != tc.result || a.Model != tc.model {
				t.Errorf("%+v", a)
			}
			if errors.Is(err, verify.ErrModelRevoked) && !strings.Contains(err.Error(), "Test Vendor Key") {
				t.Errorf("the refusal does not name the model: %v", err)
			}
		})
	}
}
