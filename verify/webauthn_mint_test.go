package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/keydesk/keydesk/u2f"
)

// A test key mints registrations and logins the way a security key
// does, with knobs to get each part wrong.

// Flags of the authenticator data (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// COSE algorithms (RFC 9053).
const (
	algES256 = -7
	algEdDSA = -8
	algES384 = -35
	algRS256 = -257
)

var ctap2, _ = cbor.CTAP2EncOptions().EncMode()

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := ctap2.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testKey is a credential key pair.
type testKey struct {
	alg    int64
	signer crypto.Signer
	id     []byte
}

func newTestKey(t testing.TB, alg int64) *testKey {
	t.Helper()
	k := &testKey{alg: alg, id: make([]byte, 32)}
	rand.Read(k.id)
	var err error
	switch alg {
	case algES256:
		k.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case algES384:
		k.signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case algEdDSA:
		_, k.signer, err = ed25519.GenerateKey(rand.Reader)
	case algRS256:
		k.signer, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil || k.signer == nil {
		t.Fatalf("key of alg %d: %v", alg, err)
	}
	return k
}

// cose is the public key as a COSE_Key (RFC 9052 §7, RFC 9053 §7).
func (k *testKey) cose(t testing.TB) []byte {
	switch pub := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		n := (len(b) - 1) / 2
		crv := 1
		if n == 48 {
			crv = 2
		}
		return mustCBOR(t, map[int]any{1: 2, 3: k.alg, -1: crv, -2: b[1 : 1+n], -3: b[1+n:]})
	case ed25519.PublicKey:
		return mustCBOR(t, map[int]any{1: 1, 3: k.alg, -1: 6, -2: []byte(pub)})
	case *rsa.PublicKey:
		return mustCBOR(t, map[int]any{1: 3, 3: k.alg, -1: pub.N.Bytes(), -2: big.NewInt(int64(pub.E)).Bytes()})
	}
	t.Fatal("unknown key")
	return nil
}

// sign signs data as a key of alg does.
func sign(t testing.TB, s crypto.Signer, alg int64, data []byte) []byte {
	t.Helper()
	var (
		sig []byte
		err error
	)
	switch alg {
	case algEdDSA:
		sig, err = s.Sign(rand.Reader, data, crypto.Hash(0))
	case algES384:
		h := crypto.SHA384.New()
		h.Write(data)
		sig, err = s.Sign(rand.Reader, h.Sum(nil), crypto.SHA384)
	default:
		h := sha256.Sum256(data)
		sig, err = s.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// authData lays out authenticator data (WebAuthn §6.1).
func authData(rpID string, flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	b := append(h[:], flags)
	b = binary.BigEndian.AppendUint32(b, count)
	return append(b, attested...)
}

// attested lays out attested credential data (WebAuthn §6.5.2).
func (k *testKey) attested(t testing.TB, aaguid u2f.AAGUID) []byte {
	b := append(aaguid[:0:0], aaguid[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.id)))
	b = append(b, k.id...)
	return append(b, k.cose(t)...)
}

// vendor is an attestation PKI: a root and an attestation key whose
// certificate it issued.
type vendor struct {
	root     *x509.Certificate
	rootKey  crypto.Signer
	attKey   *ecdsa.PrivateKey
	attCert  []byte
	rootPEM  []byte
	notAfter time.Time
}

// newVendor makes a vendor whose attestation certificate is valid until
// notAfter and carries the given AAGUID extension (none when nil).
func newVendor(t testing.TB, name string, notAfter time.Time, aaguid []byte) *vendor {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " Attestation Root", Organization: []string{name}},
		NotBefore: notAfter.AddDate(-20, 0, 0), NotAfter: notAfter.AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(der)
	v := &vendor{root: root, rootKey: rootKey, notAfter: notAfter}
	v.rootPEM = pemCert(der)
	v.attKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v.attCert = v.issue(t, &v.attKey.PublicKey, aaguid, false)
	return v
}

// issue makes a packed attestation certificate (WebAuthn §8.2.1).
func (v *vendor) issue(t testing.TB, pub crypto.PublicKey, aaguid []byte, isCA bool) []byte {
	t.Helper()
	c := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{v.root.Subject.Organization[0]},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: v.root.Subject.Organization[0] + " Key Attestation"},
		NotBefore: v.notAfter.AddDate(-10, 0, 0), NotAfter: v.notAfter, BasicConstraintsValid: true, IsCA: isCA,
	}
	if aaguid != nil {
		val, _ := asn1.Marshal(aaguid)
		c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}, Value: val}}
	}
	der, err := x509.CreateCertificate(rand.Reader, c, v.root, pub, v.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// mint is one registration as a key would answer it.
type mint struct {
	key    *testKey
	aaguid u2f.AAGUID
	rpID   string
	flags  byte
	count  uint32
	format string // "packed-self", "packed", "fido-u2f", "none"
	vendor *vendor
	hash   []byte // client data hash

	badSig bool           // flip a bit of the statement's signature
	stmt   map[string]any // replaces the statement when set
	fmtID  string         // replaces the format identifier when set
}

func (m mint) authData(t testing.TB) []byte {
	return authData(m.rpID, m.flags, m.count, m.key.attested(t, m.aaguid))
}

// object is the attestation object (WebAuthn §6.5.4).
func (m mint) object(t testing.TB) []byte {
	t.Helper()
	ad := m.authData(t)
	signed := slices.Concat(ad, m.hash)
	var stmt map[string]any
	format := m.format
	switch m.format {
	case "none":
		stmt = map[string]any{}
	case "packed-self":
		format = "packed"
		stmt = map[string]any{"alg": m.key.alg, "sig": sign(t, m.key.signer, m.key.alg, signed)}
	case "packed":
		stmt = map[string]any{"alg": int64(algES256), "sig": sign(t, m.vendor.attKey, algES256, signed), "x5c": [][]byte{m.vendor.attCert}}
	case "fido-u2f":
		point := make([]byte, 65)
		if pub, ok := m.key.signer.Public().(*ecdsa.PublicKey); ok {
			point, _ = pub.Bytes()
		}
		rp := sha256.Sum256([]byte(m.rpID))
		data := slices.Concat([]byte{0}, rp[:], m.hash, m.key.id, point)
		stmt = map[string]any{"sig": sign(t, m.vendor.attKey, algES256, data), "x5c": [][]byte{m.vendor.attCert}}
	}
	if m.badSig {
		sig := stmt["sig"].([]byte)
		sig[len(sig)/2] ^= 1
	}
	if m.stmt != nil {
		stmt = m.stmt
	}
	if m.fmtID != "" {
		format = m.fmtID
	}
	return mustCBOR(t, map[string]any{"fmt": format, "authData": ad, "attStmt": stmt})
}

// login is a key's answer to a login over clientDataHash.
func (k *testKey) login(t testing.TB, rpID string, flags byte, count uint32, hash []byte) (authenticatorData, sig []byte) {
	ad := authData(rpID, flags, count, nil)
	return ad, sign(t, k.signer, k.alg, slices.Concat(ad, hash))
}
