package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// vendorPKI makes a vendor root and an attestation certificate it issued,
// valid from notBefore to notAfter, with the given extensions.
func vendorPKI(t *testing.T, notBefore, notAfter time.Time, exts []pkix.Extension) (rootPEM, leafDER []byte) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Vendor U2F Root CA"},
		NotBefore: notBefore.AddDate(-5, 0, 0), NotAfter: notAfter.AddDate(30, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test Vendor U2F EE Serial 42"},
		NotBefore: notBefore, NotAfter: notAfter, ExtraExtensions: exts,
	}
	leafDER, err = x509.CreateCertificate(rand.Reader, leaf, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), leafDER
}

func TestAttestationTrustedExpiredAndModel(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	aaguid, _ := asn1.Marshal([]byte{0x2f, 0xc0, 0x57, 0x9f, 0x81, 0x13, 0x47, 0xea, 0xb1, 0x16, 0xbb, 0x5a, 0x8d, 0xb9, 0x20, 0x2a})
	exts := []pkix.Extension{
		{Id: oidYubicoU2FID, Value: []byte("1.3.6.1.4.1.41482.1.7")},
		{Id: oidAAGUID, Value: aaguid},
	}
	rootPEM, leaf := vendorPKI(t, now.AddDate(-10, 0, 0), now.AddDate(-1, 0, 0), exts)
	ts, err := NewTrustStore(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := CheckAttestation(leaf, ts, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != "trusted, expired" || !a.Trusted() || !strings.Contains(a.Warning, "expired on") {
		t.Errorf("expired certificate of a trusted vendor: %+v", a)
	}
	if a.Model != "YubiKey 5 series" || a.AAGUID != "2fc0579f811347eab116bb5a8db9202a" {
		t.Errorf("model %q aaguid %q", a.Model, a.AAGUID)
	}

	// The same certificate against a store without its root: untrusted.
	other, _ := vendorPKI(t, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0), nil)
	ts2, _ := NewTrustStore(other)
	if a, _, _ := CheckAttestation(leaf, ts2, now); a.Trusted() {
		t.Errorf("trusted by another vendor's root: %+v", a)
	}

	// A valid certificate: trusted, no warning; the model from the AAGUID.
	rootPEM, leaf = vendorPKI(t, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0), exts[1:])
	ts3, _ := NewTrustStore(rootPEM)
	a, _, _ = CheckAttestation(leaf, ts3, now)
	if a.Result != "trusted" || a.Warning != "" || a.Model != "YubiKey 5 NFC / 5C NFC" {
		t.Errorf("valid certificate: %+v", a)
	}

	// Garbage is an error, not an attestation.
	if _, _, err := CheckAttestation([]byte("not a certificate"), ts3, now); err == nil {
		t.Error("garbage accepted")
	}
}
