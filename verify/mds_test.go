package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// testMDS is testdata/mds read back.
type testMDS struct {
	roots, otherRoots              *x509.CertPool
	blob, stale, badSig, untrusted []byte
	vendor                         *vendor // Test Vendor: its root is in the BLOB, not in any trust store
}

func readPEM(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	return blk.Bytes
}

func loadTestMDS(t testing.TB, dir string) testMDS {
	t.Helper()
	var td testMDS
	pool := func(name string) *x509.CertPool {
		c, err := x509.ParseCertificate(readPEM(t, filepath.Join(dir, name)))
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		p.AddCert(c)
		return p
	}
	td.roots, td.otherRoots = pool("mds-root.pem"), pool("other-root.pem")
	for name, b := range map[string]*[]byte{"blob.jwt": &td.blob, "blob-stale.jwt": &td.stale, "blob-badsig.jwt": &td.badSig, "blob-untrusted.jwt": &td.untrusted} {
		var err error
		if *b, err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	key := func(name string) crypto.Signer {
		k, err := x509.ParsePKCS8PrivateKey(readPEM(t, filepath.Join(dir, name)))
		if err != nil {
			t.Fatal(err)
		}
		return k.(crypto.Signer)
	}
	root, err := x509.ParseCertificate(readPEM(t, filepath.Join(dir, "vendor-root.pem")))
	if err != nil {
		t.Fatal(err)
	}
	td.vendor = &vendor{root: root, rootKey: key("vendor-root.key"), attKey: key("u2f-attestation.key").(*ecdsa.PrivateKey),
		attCert: readPEM(t, filepath.Join(dir, "u2f-attestation.pem")), rootPEM: pemCert(root.Raw), notAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	return td
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var mdsDir = filepath.Join("..", "testdata", "mds")

// keyIdentifierOf is the MDS3 name of a U2F attestation key: SHA-1 of
// the subjectPublicKey bits.
func keyIdentifierOf(t testing.TB, c *x509.Certificate) string {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return hex.EncodeToString(h[:])
}

func TestParseMDS(t *testing.T) {
	td := loadTestMDS(t, mdsDir)
	m, err := verify.ParseMDS(td.blob, td.roots, mdsNow)
	if err != nil {
		t.Fatal(err)
	}
	if m.Serial != 42 || m.NextUpdate.Format(time.DateOnly) != "2027-01-01" || !strings.Contains(m.Signer, "BLOB signer") || m.Len() != 6 {
		t.Errorf("BLOB no %d next %s signer %q, %d models", m.Serial, m.NextUpdate, m.Signer, m.Len())
	}
	e, ok := m.Entry(certifiedAAGUID)
	if !ok || e.Description != "Test Vendor Key 5 (certified)" || e.Status != "FIDO_CERTIFIED_L1" || len(e.AttestationRoots) != 1 || e.Partial {
		t.Errorf("certified entry: %+v", e)
	}
	if !e.AttestationRoots[0].Equal(td.vendor.root) {
		t.Error("the certified model's root is not the vendor's")
	}
	// Entry hands out a copy.
	e.StatusReports[0].Status = "REVOKED"
	if err := m.Refuse(certifiedAAGUID); err != nil {
		t.Errorf("a caller's change reached the BLOB: %v", err)
	}
	if _, ok := m.Entry(mustAAGUID("00000000-0000-0000-0000-000000000001")); ok {
		t.Error("an unknown AAGUID has an entry")
	}
	// The entry that does not read whole keeps its status, not its roots.
	p, ok := m.Entry(bypassAAGUID)
	if !ok || !p.Partial || len(p.AttestationRoots) != 0 || p.Status != "USER_VERIFICATION_BYPASS" {
		t.Errorf("partial entry: %+v", p)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "UV bypass") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

// TestMDSRefuse: the current status is the latest report; REVOKED and
// the compromises refuse wherever they stand in the history.
func TestMDSRefuse(t *testing.T) {
	td := loadTestMDS(t, mdsDir)
	m, err := verify.ParseMDS(td.blob, td.roots, mdsNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		aaguid  u2f.AAGUID
		refused string // in the error, "" for none
		current string
	}{
		{certifiedAAGUID, "", "FIDO_CERTIFIED_L1"},
		{softKeyAAGUID, "", "NOT_FIDO_CERTIFIED"},
		{revokedAAGUID, "REVOKED since 2025-02-01", "REVOKED"},
		{compromisedAAGUID, "ATTESTATION_KEY_COMPROMISE since 2024-04-01", "UPDATE_AVAILABLE"},
		{bypassAAGUID, "USER_VERIFICATION_BYPASS", "USER_VERIFICATION_BYPASS"},
		{mustAAGUID("00000000-0000-0000-0000-0000000000ff"), "", ""},
	} {
		err := m.Refuse(tc.aaguid)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s refused: %v", tc.aaguid, err)
		case tc.refused != "" && (!errors.Is(err, verify.ErrModelRevoked) || !errors.Is(err, verify.ErrRefused) || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s: %v, want %q", tc.aaguid, err, tc.refused)
		}
		if e, _ := m.Entry(tc.aaguid); e.Status != tc.current {
			t.Errorf("%s: current status %q, want %q", tc.aaguid, e.Status, tc.current)
		}
	}
}

func TestParseMDSRefusals(t *testing.T) {
	td := loadTestMDS(t, mdsDir)
	for _, tc := range []struct {
		name  string
		blob  []byte
		roots *x509.CertPool
		now   time.Time
		want  []error
		words string
	}{
		{"stale", td.stale, td.roots, mdsNow, []error{verify.ErrMDSStale}, "fetch a new one"},
		{"due today is still good, tomorrow is stale", td.blob, td.roots, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), []error{verify.ErrMDSStale}, "2027-01-01"},
		{"bad signature", td.badSig, td.roots, mdsNow, []error{verify.ErrBadMDS, verify.ErrBadSignature}, "signature"},
		{"untrusted root", td.untrusted, td.roots, mdsNow, []error{verify.ErrMDSUntrusted}, "untrusted BLOB signer"},
		{"another root", td.blob, td.otherRoots, mdsNow, []error{verify.ErrMDSUntrusted}, ""},
		{"the built-in roots do not sign test BLOBs", td.blob, nil, mdsNow, []error{verify.ErrMDSUntrusted}, ""},
		{"signer not yet valid", td.blob, td.roots, time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC), []error{verify.ErrMDSUntrusted}, ""},
		{"not a JWS", []byte("hello"), td.roots, mdsNow, []error{verify.ErrBadMDS}, ""},
		{"too big", make([]byte, 33<<20), td.roots, mdsNow, []error{verify.ErrBadMDS}, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := verify.ParseMDS(tc.blob, tc.roots, tc.now)
			if m != nil || err == nil {
				t.Fatalf("accepted: %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("%v is not %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("%v does not say %q", err, tc.words)
			}
		})
	}
	// The day of nextUpdate itself is still good.
	if _, err := verify.ParseMDS(td.blob, td.roots, time.Date(2027, 1, 1, 23, 59, 0, 0, time.UTC)); err != nil {
		t.Errorf("on its nextUpdate day: %v", err)
	}
}

func TestParseMDSGrace(t *testing.T) {
	td := loadTestMDS(t, mdsDir)
	m, err := verify.ParseMDSWithGrace(td.stale, td.roots, mdsNow, 45*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) < 2 || !strings.Contains(strings.Join(m.Warnings, "\n"), "due for renewal on 2026-11-01") {
		t.Errorf("no warning of the grace: %q", m.Warnings)
	}
	if _, err := verify.ParseMDSWithGrace(td.stale, td.roots, mdsNow, 24*time.Hour); !errors.Is(err, verify.ErrMDSStale) {
		t.Errorf("past the grace: %v", err)
	}
}

// TestFIDOMetadataRoots checks the embedded roots are GlobalSign's, by
// their published SHA-256 fingerprints, and that R46 is the root
// go-webauthn pins for the production BLOB.
func TestFIDOMetadataRoots(t *testing.T) {
	want := map[string]string{
		"globalsign-root-ca-r3.pem": "cbb522d7b7f127ad6a0113865bdf1cd4102e7d0759af635a7cf4720dc963c53b",
		"globalsign-root-r46.pem":   "4fa3126d8d3a11d1c4855a4f807cbad6cf919d3a5a88b03bea2c6372d93c40c9",
	}
	pool := verify.FIDOMetadataRoots()
	for name, fp := range want {
		der := readPEM(t, filepath.Join("roots", "mds", name))
		if h := sha256.Sum256(der); hex.EncodeToString(h[:]) != fp {
			t.Errorf("%s: fingerprint %x", name, h)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Errorf("%s is not in the built-in pool: %v", name, err)
		}
	}
	r46 := readPEM(t, filepath.Join("roots", "mds", "globalsign-root-r46.pem"))
	if metadata.ProductionMDSRoot != base64Std(r46) {
		t.Error("GlobalSign Root R46 differs from go-webauthn's ProductionMDSRoot")
	}
}
