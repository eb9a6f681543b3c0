package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// maxStateFile bounds what New reads: the state is a few hundred bytes.
const maxStateFile = 64 << 10

// state is what the soft key keeps: the device secret that wraps every
// credential's private key into its key handle, the attestation key and
// certificate, and the signature counter.
type state struct {
	secret  []byte // 32 bytes, AES-256 key
	attKey  *ecdsa.PrivateKey
	attCert []byte // DER
	counter uint32
}

// stateFile is the file's JSON form; []byte fields are base64.
type stateFile struct {
	Version         int    `json:"version"`
	DeviceSecret    []byte `json:"device_secret"`
	AttestationKey  []byte `json:"attestation_key"`  // PKCS #8 DER
	AttestationCert []byte `json:"attestation_cert"` // X.509 DER
	Counter         uint32 `json:"counter"`
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
	return &state{secret: secret, attKey: key, attCert: cert}, nil
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
	if f.Version != 1 {
		return fail(-1, "version", "%d, want 1", f.Version)
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
	return &state{secret: f.DeviceSecret, attKey: key, attCert: f.AttestationCert, counter: f.Counter}, nil
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
	return json.MarshalIndent(stateFile{
		Version:         1,
		DeviceSecret:    s.secret,
		AttestationKey:  key,
		AttestationCert: s.attCert,
		Counter:         s.counter,
	}, "", "  ")
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
