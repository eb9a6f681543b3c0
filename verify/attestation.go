package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors of the U2F checks.
var (
	ErrBadSignature   = errors.New("signature does not verify")
	ErrUntrusted      = Refusef("attestation is not from a trusted vendor")
	ErrCounter        = errors.New("signature counter did not grow: the key may be cloned")
	ErrNoPresence     = errors.New("the key did not confirm a touch")
	ErrKeyRegistered  = Refusef("key already registered")
	ErrNoKey          = errors.New("no registered key answered")
	ErrBadAttestation = errors.New("attestation is unusable")
)

// TrustStore holds the vendor roots attestation certificates must chain to.
type TrustStore struct {
	pool  *x509.CertPool
	names []string
}

// NewTrustStore makes a store of PEM certificates.
func NewTrustStore(pems ...[]byte) (*TrustStore, error) {
	ts := &TrustStore{pool: x509.NewCertPool()}
	for _, p := range pems {
		if err := ts.add(p, "built in"); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// LoadTrustDir adds every .pem and .crt file in dir.
func (ts *TrustStore) LoadTrustDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("attestation roots: %w", err)
	}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".pem" && ext != ".crt") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("attestation roots: %w", err)
		}
		if err := ts.add(b, p); err != nil {
			return err
		}
	}
	return nil
}

func (ts *TrustStore) add(b []byte, from string) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("attestation root in %s: %w", from, err)
		}
		ts.pool.AddCert(c)
		ts.names = append(ts.names, c.Subject.CommonName)
		n++
	}
	if n == 0 {
		return fmt.Errorf("attestation roots: no PEM certificate in %s", from)
	}
	return nil
}

// Roots names the trusted roots.
func (ts *TrustStore) Roots() []string { return ts.names }

// Attestation is what keydesk learned from a key's attestation certificate.
type Attestation struct {
	Result  string `json:"result"` // "trusted", "trusted, expired", "untrusted", "self-signed"
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
	Model   string `json:"model,omitempty"`
	AAGUID  string `json:"aaguid,omitempty"`
	Warning string `json:"warning,omitempty"` // something a clerk should know, such as an expired certificate
}

// Trusted reports whether the certificate chains to a vendor root.
func (a Attestation) Trusted() bool { return strings.HasPrefix(a.Result, "trusted") }

// Object identifiers in attestation certificates.
var (
	// FIDO's id-fido-gen-ce-aaguid: the authenticator's AAGUID.
	oidAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
	// Yubico's U2F device id extension: its value names the model's arc.
	oidYubicoU2FID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 2}
	// Yubico's device arc 1.3.6.1.4.1.41482.1.N, also used as an extension
	// of its own in older certificates.
	oidYubicoDevice = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 1}
)

// yubicoModels names Yubico's device arcs (Yubico's U2F attestation notes).
var yubicoModels = map[int]string{
	1: "Security Key by Yubico",
	2: "YubiKey NEO",
	3: "YubiKey Plus",
	4: "YubiKey Edge",
	5: "YubiKey 4",
	7: "YubiKey 5 series",
}

// knownAAGUIDs names a few authenticators by AAGUID; the FIDO metadata
// service has the full list.
var knownAAGUIDs = map[string]string{
	"2fc0579f811347eab116bb5a8db9202a": "YubiKey 5 NFC / 5C NFC",
}

// CheckAttestation reads a key's attestation certificate: which model it
// is, and whether it chains to a trusted root at now. Older keys carry
// certificates that have expired; they are still trusted, with a warning,
// since the certificate only vouches for how the key was made.
func CheckAttestation(der []byte, ts *TrustStore, now time.Time) (Attestation, *x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Attestation{}, nil, fmt.Errorf("%w: %v", ErrBadAttestation, err)
	}
	if pk, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		return Attestation{}, nil, fmt.Errorf("%w: its key is not ECDSA P-256", ErrBadAttestation)
	}
	a := Attestation{Issuer: cert.Issuer.String(), Subject: cert.Subject.String(), Result: "untrusted"}
	a.Model, a.AAGUID = model(cert)
	// CheckSignatureFrom would insist on a CA certificate; a self-signed
	// attestation certificate is an end-entity signed by its own key.
	if bytes.Equal(cert.RawSubject, cert.RawIssuer) && cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil {
		a.Result = "self-signed"
	}
	if ts != nil {
		at := now
		if now.After(cert.NotAfter) {
			// Check the chain as of the certificate's last valid day.
			at = cert.NotAfter.Add(-time.Second)
		}
		opts := x509.VerifyOptions{Roots: ts.pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		if _, err := cert.Verify(opts); err == nil {
			a.Result = "trusted"
			if now.After(cert.NotAfter) {
				a.Result = "trusted, expired"
				a.Warning = fmt.Sprintf("the attestation certificate expired on %s (usual for older keys)", cert.NotAfter.Format(time.DateOnly))
			}
		}
	}
	return a, cert, nil
}

func model(cert *x509.Certificate) (name, aaguid string) {
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidAAGUID):
			var raw []byte
			if _, err := asn1.Unmarshal(ext.Value, &raw); err == nil && len(raw) == 16 {
				aaguid = hex.EncodeToString(raw)
				if n, ok := knownAAGUIDs[aaguid]; ok && name == "" {
					name = n
				}
			}
		case ext.Id.Equal(oidYubicoU2FID):
			if n := yubicoArc(string(ext.Value)); n != "" {
				name = n
			}
		case len(ext.Id) == len(oidYubicoDevice)+1 && ext.Id[:len(oidYubicoDevice)].Equal(oidYubicoDevice):
			if n, ok := yubicoModels[ext.Id[len(oidYubicoDevice)]]; ok && name == "" {
				name = n
			}
		}
	}
	if name == "" {
		name = cert.Subject.CommonName
	}
	return name, aaguid
}

// yubicoArc reads the dotted OID text Yubico puts in its U2FID extension.
func yubicoArc(s string) string {
	prefix := oidYubicoDevice.String() + "."
	i := strings.Index(s, prefix)
	if i < 0 {
		return ""
	}
	var n int
	if _, err := fmt.Sscanf(s[i+len(prefix):], "%d", &n); err != nil {
		return ""
	}
	return yubicoModels[n]
}

// AppParam is the U2F application parameter of an app id (SHA-256).
func AppParam(appID string) [32]byte { return sha256.Sum256([]byte(appID)) }

// verifyES256 checks an ECDSA P-256 SHA-256 signature in DER.
func verifyES256(pub *ecdsa.PublicKey, data, sig []byte) error {
	h := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(pub, h[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// parseU2FPublicKey reads a 65-byte uncompressed P-256 point.
func parseU2FPublicKey(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) != 65 || b[0] != 4 {
		return nil, fmt.Errorf("user public key of %d bytes is not an uncompressed P-256 point", len(b))
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		return nil, fmt.Errorf("user public key: %w", err)
	}
	return pk, nil
}
