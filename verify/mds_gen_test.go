package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

var update = flag.Bool("update", false, "rewrite the test BLOBs, roots and keys in testdata/mds")

// The test clock of the MDS tests: the test BLOB is due on 2027-01-01,
// the stale one was due on 2026-11-01.
var mdsNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// Models of the test BLOB.
var (
	// softKeyAAGUID is the keydesk soft key's own (softkey.AAGUID), so
	// that a registration of the soft key finds its entry.
	softKeyAAGUID     = mustAAGUID("2a38d610-c3ca-4864-8900-ae3475146b6f")
	certifiedAAGUID   = mustAAGUID("a1c2e3f4-0000-4000-8000-000000000001")
	revokedAAGUID     = mustAAGUID("a1c2e3f4-0000-4000-8000-000000000002")
	compromisedAAGUID = mustAAGUID("a1c2e3f4-0000-4000-8000-000000000003")
	// bypassAAGUID's entry does not read whole (an empty
	// timeOfLastStatusChange): keydesk keeps its status, not its roots.
	bypassAAGUID = mustAAGUID("a1c2e3f4-0000-4000-8000-000000000004")
)

func mustAAGUID(s string) u2f.AAGUID {
	var a u2f.AAGUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(a) {
		panic("bad AAGUID " + s)
	}
	copy(a[:], b)
	return a
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(t testing.TB, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ca makes a certificate issued by parent (self-signed when nil).
func ca(t testing.TB, cn string, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"keydesk tests"}, Country: []string{"US"}},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true, IsCA: isCA,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.Subject.OrganizationalUnit = []string{"Authenticator Attestation"}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func mdsStatement(aaguid u2f.AAGUID, desc, family string, roots ...*x509.Certificate) map[string]any {
	var b64 []string
	for _, r := range roots {
		b64 = append(b64, base64.StdEncoding.EncodeToString(r.Raw))
	}
	s := map[string]any{
		"legalHeader": "Test metadata: not from the FIDO Alliance.", "description": desc,
		"authenticatorVersion": 1, "protocolFamily": family, "schema": 3,
		"upv": []any{map[string]any{"major": 1, "minor": 1}}, "authenticationAlgorithms": []string{"secp256r1_ecdsa_sha256_raw"},
		"publicKeyAlgAndEncodings": []string{"cose"}, "attestationTypes": []string{"basic_full"},
		"userVerificationDetails": []any{[]any{map[string]any{"userVerificationMethod": "presence_internal"}}},
		"keyProtection":           []string{"hardware", "secure_element"}, "matcherProtection": []string{"on_chip"},
		"attachmentHint": []string{"external", "wired"}, "tcDisplay": []string{}, "attestationRootCertificates": b64,
	}
	if family == "fido2" {
		s["aaguid"] = aaguid.String()
		s["authenticatorGetInfo"] = map[string]any{"versions": []string{"FIDO_2_0", "U2F_V2"}, "aaguid": strings.ReplaceAll(aaguid.String(), "-", "")}
	}
	return s
}

func report(status, date string) map[string]any {
	r := map[string]any{"status": status}
	if date != "" {
		r["effectiveDate"] = date
	}
	return r
}

// writeTestMDS makes the test metadata service and its BLOBs in dir (see
// testdata/mds/README.md). Each run draws new keys.
func writeTestMDS(t testing.TB, dir string) {
	t.Helper()
	root, rootKey := ca(t, "keydesk test MDS root", true, nil, nil)
	inter, interKey := ca(t, "keydesk test MDS intermediate", true, root, rootKey)
	signer, signerKey := ca(t, "keydesk test MDS BLOB signer", false, inter, interKey)
	other, otherKey := ca(t, "untrusted root", true, nil, nil)
	otherSigner, otherSignerKey := ca(t, "untrusted BLOB signer", false, other, otherKey)
	vendorRoot, vendorKey := ca(t, "Test Vendor FIDO Root", true, nil, nil)
	u2fCert, u2fKey := ca(t, "Test Vendor U2F Attestation", false, vendorRoot, vendorKey)
	keyID := keyIdentifierOf(t, u2fCert)

	entries := []any{
		map[string]any{"aaguid": softKeyAAGUID.String(), "metadataStatement": mdsStatement(softKeyAAGUID, "keydesk soft key", "fido2", vendorRoot),
			"statusReports": []any{report("NOT_FIDO_CERTIFIED", "2026-06-01")}, "timeOfLastStatusChange": "2026-06-01"},
		map[string]any{"aaguid": certifiedAAGUID.String(), "metadataStatement": mdsStatement(certifiedAAGUID, "Test Vendor Key 5 (certified)", "fido2", vendorRoot),
			"statusReports": []any{report("FIDO_CERTIFIED", "2023-03-01"), report("FIDO_CERTIFIED_L1", "2023-03-01")}, "timeOfLastStatusChange": "2023-03-01"},
		map[string]any{"aaguid": revokedAAGUID.String(), "metadataStatement": mdsStatement(revokedAAGUID, "Test Vendor Key 3 (revoked)", "fido2", vendorRoot),
			"statusReports": []any{report("FIDO_CERTIFIED_L1", "2021-05-01"), report("REVOKED", "2025-02-01")}, "timeOfLastStatusChange": "2025-02-01"},
		// A compromise followed by a fixed firmware stays decisive.
		map[string]any{"aaguid": compromisedAAGUID.String(), "metadataStatement": mdsStatement(compromisedAAGUID, "Test Vendor Key 2 (compromised)", "fido2", vendorRoot),
			"statusReports":          []any{report("FIDO_CERTIFIED_L1", "2020-01-01"), report("ATTESTATION_KEY_COMPROMISE", "2024-04-01"), report("UPDATE_AVAILABLE", "2024-09-01")},
			"timeOfLastStatusChange": "2024-09-01"},
		map[string]any{"aaguid": bypassAAGUID.String(), "metadataStatement": mdsStatement(bypassAAGUID, "Test Vendor Key 1 (UV bypass)", "fido2", vendorRoot),
			"statusReports": []any{report("USER_VERIFICATION_BYPASS", "")}, "timeOfLastStatusChange": ""},
		map[string]any{"attestationCertificateKeyIdentifiers": []string{keyID}, "metadataStatement": mdsStatement(u2f.AAGUID{}, "Test Vendor U2F Key", "u2f", vendorRoot),
			"statusReports": []any{report("FIDO_CERTIFIED", "2019-01-01")}, "timeOfLastStatusChange": "2019-01-01"},
	}
	payload := func(no int, next string) jwt.MapClaims {
		return jwt.MapClaims{"legalHeader": "Test metadata: not from the FIDO Alliance.", "no": no, "nextUpdate": next, "entries": entries}
	}
	blob := signBLOB(t, payload(42, "2027-01-01"), signerKey, signer, inter)
	files := map[string][]byte{
		"mds-root.pem":        pemCert(root.Raw),
		"other-root.pem":      pemCert(other.Raw),
		"vendor-root.pem":     pemCert(vendorRoot.Raw),
		"vendor-root.key":     pemKey(t, vendorKey),
		"u2f-attestation.pem": pemCert(u2fCert.Raw),
		"u2f-attestation.key": pemKey(t, u2fKey),
		"blob.jwt":            blob,
		"blob-stale.jwt":      signBLOB(t, payload(41, "2026-11-01"), signerKey, signer, inter),
		"blob-badsig.jwt":     flipSignature(t, blob),
		"blob-untrusted.jwt":  signBLOB(t, payload(42, "2027-01-01"), otherSignerKey, otherSigner),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func signBLOB(t testing.TB, claims jwt.MapClaims, key crypto.Signer, chain ...*x509.Certificate) []byte {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	var x5c []string
	for _, c := range chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
	}
	tok.Header["x5c"] = x5c
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s + "\n")
}

// flipSignature keeps the JWS well formed and breaks its signature.
func flipSignature(t testing.TB, blob []byte) []byte {
	parts := strings.Split(strings.TrimSpace(string(blob)), ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[5] ^= 0x40
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return []byte(strings.Join(parts, ".") + "\n")
}

// TestMDSGenerator runs the generator into a temporary directory and
// reads what it made; with -update it rewrites testdata/mds.
func TestMDSGenerator(t *testing.T) {
	dir := t.TempDir()
	if *update {
		dir = filepath.Join("..", "testdata", "mds")
	}
	writeTestMDS(t, dir)
	td := loadTestMDS(t, dir)
	m, err := verify.ParseMDS(td.blob, td.roots, mdsNow)
	if err != nil {
		t.Fatal(err)
	}
	if m.Serial != 42 || m.Len() != 6 {
		t.Errorf("serial %d, %d models", m.Serial, m.Len())
	}
	if e, ok := m.Entry(softKeyAAGUID); !ok || !strings.Contains(e.Description, "soft key") {
		t.Errorf("soft key entry: %+v %v", e, ok)
	}
}
