package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/keydesk/keydesk/u2f"
)

// maxStateFile bounds what New reads: a few hundred bytes, and some
// 300 more for each of at most maxResident resident credentials.
const maxStateFile = 64 << 10

// state is what the soft key keeps: the device secret that wraps every
// credential's private key into its key handle, the attestation key and
// certificates, the signature counter, and the CTAP2 state: the PIN's
// hash (never the PIN), its retries, the policy, resident credentials.
type state struct {
	secret     []byte // 32 bytes, AES-256 key
	attKey     *ecdsa.PrivateKey
	attCert    []byte // DER, the U2F attestation certificate
	packedCert []byte // DER, the packed attestation certificate (CTAP2)
	counter    uint32

	pinHash        []byte // LEFT(SHA-256(PIN), 16); nil: no PIN set
	pinLength      int    // the PIN's length in code points (PINCodePointLength)
	pinRetries     int
	minPINLength   int
	forcePINChange bool
	alwaysUV       bool
	creds          []*residentCred
}

// residentCred is a discoverable credential (CTAP 2.1 §6.1.2 step 14).
type residentCred struct {
	ID          []byte            `json:"id"`
	RPID        string            `json:"rp_id"`
	RPName      string            `json:"rp_name,omitempty"`
	User        u2f.User          `json:"user"`
	Alg         u2f.COSEAlgorithm `json:"alg"`
	Private     []byte            `json:"private_key"` // P-256 scalar or Ed25519 seed
	CredProtect u2f.CredProtect   `json:"cred_protect,omitempty"`
	Created     time.Time         `json:"created"`
}

// maxPINRetries is the PIN tries a key allows before it blocks (CTAP 2.1
// §6.5.2: pinRetries starts at 8).
const maxPINRetries = 8

// stateFile is the file's JSON form; []byte fields are base64. Version 1
// (U2F only) files have none of the fields after counter.
type stateFile struct {
	Version         int             `json:"version"`
	DeviceSecret    []byte          `json:"device_secret"`
	AttestationKey  []byte          `json:"attestation_key"`  // PKCS #8 DER
	AttestationCert []byte          `json:"attestation_cert"` // X.509 DER
	Counter         uint32          `json:"counter"`
	PackedCert      []byte          `json:"packed_attestation_cert,omitempty"`
	PINHash         []byte          `json:"pin_hash,omitempty"`
	PINLength       int             `json:"pin_length,omitempty"`
	PINRetries      *int            `json:"pin_retries,omitempty"`
	MinPINLength    int             `json:"min_pin_length,omitempty"`
	ForcePINChange  bool            `json:"force_pin_change,omitempty"`
	AlwaysUV        bool            `json:"always_uv,omitempty"`
	Credentials     []*residentCred `json:"credentials,omitempty"`
}

// newState makes a fresh key: a random device secret and a self-signed
// P-256 attestation certificate.
func newState(rnd io.Reader, now time.Time) (*state, error) {
	secret := make([]byte, 32)
	if _, err := io.ReadFull(rnd, secret); err != nil {
		return nil, fmt.Errorf("softkey: making device secret: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("softkey: making attestation key: %w", err)
	}
	serial := make([]byte, 16)
	if _, err := io.ReadFull(rnd, serial); err != nil {
		return nil, fmt.Errorf("softkey: making certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial),
		Subject:               pkix.Name{CommonName: "keydesk softkey attestation", Organization: []string{"keydesk lab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	cert, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("softkey: making attestation certificate: %w", err)
	}
	packed, err := packedCertificate(rnd, key, now)
	if err != nil {
		return nil, err
	}
	return &state{secret: secret, attKey: key, attCert: cert, packedCert: packed,
		pinRetries: maxPINRetries, minPINLength: u2f.MinPINLength}, nil
}

// idFIDOGenCeAAGUID is the certificate extension that names the AAGUID
// (WebAuthn §8.2.1).
var idFIDOGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// packedCertificate makes the packed attestation certificate as WebAuthn
// §8.2.1 wants it: Subject C, O, OU "Authenticator Attestation" and CN,
// not a CA, and the AAGUID in id-fido-gen-ce-aaguid. It is self-signed by
// the attestation key, so a verifier trusts it only if told to.
func packedCertificate(rnd io.Reader, key *ecdsa.PrivateKey, now time.Time) ([]byte, error) {
	serial := make([]byte, 16)
	if _, err := io.ReadFull(rnd, serial); err != nil {
		return nil, fmt.Errorf("softkey: making certificate serial: %w", err)
	}
	aaguid, err := asn1.Marshal(AAGUID[:])
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"keydesk lab"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "keydesk softkey packed attestation"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: idFIDOGenCeAAGUID, Value: aaguid}},
	}
	cert, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("softkey: making packed attestation certificate: %w", err)
	}
	return cert, nil
}

// StateError is a state file that New could not read.
type StateError struct {
	File   string
	Byte   int64 // offset of a JSON syntax error, -1 if none
	Field  string
	Reason string
}

func (e *StateError) Error() string {
	s := "softkey: state " + e.File
	if e.Byte >= 0 {
		s += fmt.Sprintf(", byte %d", e.Byte)
	}
	if e.Field != "" {
		s += ", field " + e.Field
	}
	return s + ": " + e.Reason
}

// parseState reads a state file's contents; it returns nil on any error.
func parseState(file string, b []byte) (*state, error) {
	fail := func(at int64, field, format string, args ...any) (*state, error) {
		return nil, &StateError{File: file, Byte: at, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > maxStateFile {
		return fail(maxStateFile, "", "longer than %d bytes", maxStateFile)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fail(se.Offset, "", "%v", err)
		case errors.As(err, &te):
			return fail(te.Offset, te.Field, "%v", err)
		}
		return fail(-1, "", "%v", err)
	}
	if dec.More() {
		return fail(dec.InputOffset(), "", "data after the JSON object")
	}
	if f.Version != 1 && f.Version != 2 {
		return fail(-1, "version", "%d, want 1 or 2", f.Version)
	}
	if len(f.DeviceSecret) != 32 {
		return fail(-1, "device_secret", "%d bytes, want 32", len(f.DeviceSecret))
	}
	k, err := x509.ParsePKCS8PrivateKey(f.AttestationKey)
	if err != nil {
		return fail(-1, "attestation_key", "%v", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return fail(-1, "attestation_key", "not a P-256 ECDSA key")
	}
	cert, err := x509.ParseCertificate(f.AttestationCert)
	if err != nil {
		return fail(-1, "attestation_cert", "%v", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return fail(-1, "attestation_cert", "not the certificate of attestation_key")
	}
	st := &state{secret: f.DeviceSecret, attKey: key, attCert: f.AttestationCert, counter: f.Counter,
		pinRetries: maxPINRetries, minPINLength: u2f.MinPINLength, forcePINChange: f.ForcePINChange, alwaysUV: f.AlwaysUV}
	if f.PackedCert != nil {
		pc, err := x509.ParseCertificate(f.PackedCert)
		if err != nil {
			return fail(-1, "packed_attestation_cert", "%v", err)
		}
		if !key.PublicKey.Equal(pc.PublicKey) {
			return fail(-1, "packed_attestation_cert", "not the certificate of attestation_key")
		}
		st.packedCert = f.PackedCert
	}
	if f.PINHash != nil {
		if len(f.PINHash) != 16 {
			return fail(-1, "pin_hash", "%d bytes, want 16", len(f.PINHash))
		}
		if f.PINLength < 1 || f.PINLength > u2f.MaxPINBytes {
			return fail(-1, "pin_length", "%d, want 1 to %d", f.PINLength, u2f.MaxPINBytes)
		}
		st.pinHash, st.pinLength = f.PINHash, f.PINLength
	}
	if f.PINRetries != nil {
		if *f.PINRetries < 0 || *f.PINRetries > maxPINRetries {
			return fail(-1, "pin_retries", "%d, want 0 to %d", *f.PINRetries, maxPINRetries)
		}
		st.pinRetries = *f.PINRetries
	}
	if f.MinPINLength != 0 {
		if f.MinPINLength < u2f.MinPINLength || f.MinPINLength > u2f.MaxPINBytes {
			return fail(-1, "min_pin_length", "%d, want %d to %d", f.MinPINLength, u2f.MinPINLength, u2f.MaxPINBytes)
		}
		st.minPINLength = f.MinPINLength
	}
	if len(f.Credentials) > maxResident {
		return fail(-1, "credentials", "%d, at most %d", len(f.Credentials), maxResident)
	}
	for i, c := range f.Credentials {
		if err := c.check(); err != nil {
			return fail(-1, fmt.Sprintf("credentials[%d]", i), "%v", err)
		}
	}
	st.creds = f.Credentials
	return st, nil
}

// check refuses a resident credential that the key could not use.
func (c *residentCred) check() error {
	switch {
	case c == nil:
		return errors.New("null")
	case len(c.ID) != residentIDSize || c.ID[0] != residentFormat:
		return fmt.Errorf("id of %d bytes, not a resident credential ID", len(c.ID))
	case c.RPID == "" || len(c.User.ID) == 0 || len(c.User.ID) > 64:
		return errors.New("rp_id or user.id missing or too long")
	case c.CredProtect > u2f.CredProtectUVRequired:
		return fmt.Errorf("cred_protect %d", c.CredProtect)
	}
	if _, err := credentialSigner(c.Alg, c.Private); err != nil {
		return err
	}
	return nil
}

// loadState reads the state file, refusing one that others may read: it
// holds the device secret.
func loadState(path string) (*state, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("softkey: state %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("softkey: state %s is open to group or others (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("softkey: state %s: %w", path, err)
	}
	return parseState(path, b)
}

func (s *state) marshal() ([]byte, error) {
	key, err := x509.MarshalPKCS8PrivateKey(s.attKey)
	if err != nil {
		return nil, err
	}
	f := stateFile{
		Version:         2,
		DeviceSecret:    s.secret,
		AttestationKey:  key,
		AttestationCert: s.attCert,
		Counter:         s.counter,
		PackedCert:      s.packedCert,
		PINHash:         s.pinHash,
		PINLength:       s.pinLength,
		PINRetries:      &s.pinRetries,
		MinPINLength:    s.minPINLength,
		ForcePINChange:  s.forcePINChange,
		AlwaysUV:        s.alwaysUV,
		Credentials:     s.creds,
	}
	return json.MarshalIndent(f, "", "  ")
}

// save writes the state atomically, mode 0600: a new file beside the old
// one, synced, then renamed over it, so that a crash leaves one or the
// other and never a counter that goes back.
func (s *state) save(path string) error {
	b, err := s.marshal()
	if err != nil {
		return fmt.Errorf("softkey: saving state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".softkey-state-*") // mode 0600
	if err != nil {
		return fmt.Errorf("softkey: saving state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err = tmp.Write(append(b, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("softkey: saving state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable where the OS allows
		d.Close()
	}
	return nil
}
