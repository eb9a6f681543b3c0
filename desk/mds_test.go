package desk_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// mdsNow is the day the test BLOBs of testdata/mds were made for.
var mdsNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/mds/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportMDS(t *testing.T) {
	fx := newDesk(t)
	fx.now = mdsNow
	root := readTestdata(t, "mds-root.pem")
	// Signed under the test root, not FIDO's: refused without --root.
	if _, err := fx.d.ImportMDS(t.Context(), readTestdata(t, "blob.jwt"), nil); !errors.Is(err, verify.ErrMDSUntrusted) {
		t.Errorf("under the built-in roots: %v", err)
	}
	for name, want := range map[string]error{"blob-stale.jwt": verify.ErrMDSStale, "blob-badsig.jwt": verify.ErrBadSignature, "blob-untrusted.jwt": verify.ErrMDSUntrusted} {
		if _, err := fx.d.ImportMDS(t.Context(), readTestdata(t, name), root); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	if len(fx.audit(t)) != 0 {
		t.Error("a refused BLOB was audited")
	}
	imp, err := fx.d.ImportMDS(t.Context(), readTestdata(t, "blob.jwt"), root)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Blob.Serial != 42 || imp.Blob.Models != 6 || imp.Previous != 0 || !imp.Blob.NextUpdate.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("imported %+v", imp)
	}
	if e := fx.lastAudit(t); e.Action != "mds import" || !strings.Contains(e.Detail, "BLOB no 42, 6 models") {
		t.Errorf("audit %+v", e)
	}
	// The same BLOB again is no newer: a rollback is refused.
	if _, err := fx.d.ImportMDS(t.Context(), readTestdata(t, "blob.jwt"), root); !errors.Is(err, desk.ErrMDSOlder) {
		t.Errorf("again: %v", err)
	}
	m, err := fx.d.MDS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.Entry(softkey.AAGUID); !ok || e.Description != "keydesk soft key" {
		t.Errorf("the soft key's entry: %+v %v", e, ok)
	}
	// Past nextUpdate the BLOB no longer serves, and registrations wait
	// for a new one.
	fx.users(t, "alice")
	fx.now = time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	dev := device(plugIn(t, newSoftKey(t, softkey.Config{})), "")
	if _, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "alice"}, rules); !errors.Is(err, verify.ErrMDSStale) {
		t.Errorf("registration under a stale BLOB: %v", err)
	}
}

// The MDS names the model at registration; a model it reports revoked is
// refused before the key makes a credential.
func TestMDSAtRegistration(t *testing.T) {
	fx := newDesk(t)
	fx.now = mdsNow
	fx.users(t, "alice")
	if _, err := fx.d.ImportMDS(t.Context(), readTestdata(t, "blob.jwt"), readTestdata(t, "mds-root.pem")); err != nil {
		t.Fatal(err)
	}
	reg := fx.register(t, device(plugIn(t, newSoftKey(t, softkey.Config{})), ""), "alice", rules)
	if reg.Key.Model != "keydesk soft key" || reg.Key.Name != "keydesk soft key" {
		t.Errorf("named %+v", reg.Key)
	}

	blob, rootPEM := mintMDS(t, 43, "REVOKED")
	if _, err := fx.d.ImportMDS(t.Context(), blob, rootPEM); err != nil {
		t.Fatal(err)
	}
	sk := newSoftKey(t, softkey.Config{})
	before := sk.Counter()
	if _, err := fx.d.RegisterKey(t.Context(), device(plugIn(t, sk), ""), desk.KeyRequest{User: "alice"}, rules); !errors.Is(err, verify.ErrModelRevoked) ||
		!strings.Contains(err.Error(), "REVOKED since 2026-11-01") {
		t.Errorf("a revoked model: %v", err)
	}
	if sk.Counter() != before {
		t.Error("the revoked key made a credential before it was refused")
	}
	// The deny list refuses a model too, after the attestation.
	blob, rootPEM = mintMDS(t, 44, "NOT_FIDO_CERTIFIED")
	if _, err := fx.d.ImportMDS(t.Context(), blob, rootPEM); err != nil {
		t.Fatal(err)
	}
	deny := desk.KeyRules{RPID: rpID, Registration: verify.RegistrationPolicy{DenyAAGUIDs: []u2f.AAGUID{softkey.AAGUID}}}
	if _, err := fx.d.RegisterKey(t.Context(), device(plugIn(t, newSoftKey(t, softkey.Config{})), ""), desk.KeyRequest{User: "alice"}, deny); !errors.Is(err, verify.ErrModelNotAllowed) {
		t.Errorf("a denied model: %v", err)
	}
}

// mintMDS makes a BLOB of one entry, the soft key's model with status,
// signed under a root made for it, and returns it with the root's PEM.
func mintMDS(t *testing.T, serial int, status string) (blob, rootPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test MDS signer"},
		NotBefore: mdsNow.AddDate(-1, 0, 0), NotAfter: mdsNow.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"legalHeader": "test", "no": serial, "nextUpdate": "2027-01-01", "entries": []any{map[string]any{
		"aaguid":            softkey.AAGUID.String(),
		"metadataStatement": map[string]any{"description": "keydesk soft key (test status)"},
		"statusReports":     []any{map[string]any{"status": status, "effectiveDate": "2026-11-01"}},
	}}}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["x5c"] = []string{base64.StdEncoding.EncodeToString(der)}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
