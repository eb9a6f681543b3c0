package inventory

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/hkdf"
)

// MasterKeySize is the size of the key that seals an inventory's secrets.
const MasterKeySize = 32

// maxKeyFileSize bounds what ReadMasterKey reads: 64 hex digits and room
// for line ends and blanks.
const maxKeyFileSize = 256

// ErrWrongKey is wrapped when the master key does not open the inventory.
var ErrWrongKey = errors.New("wrong master key")

// Fingerprint names a master key without revealing it: the first 8 bytes of
// a domain-separated SHA-256, in hex. It is what messages show.
func Fingerprint(master []byte) string {
	h := sha256.New()
	h.Write([]byte("keydesk master key fingerprint\x00"))
	h.Write(master)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ReadMasterKey reads a master key file: 64 hex digits and a newline. It
// refuses a file that the group or others can read, as ssh does, because a
// readable key is a leaked key.
func ReadMasterKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s is readable by group or others (mode %04o); run: chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	// A key file is 65 bytes; reading no more than a little over that
	// keeps a wrong path (a FIFO, a disk image) from hanging or filling
	// memory.
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(raw) > maxKeyFileSize {
		return nil, fmt.Errorf("master key %s: longer than %d bytes, so not a key file", path, maxKeyFileSize)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key %s: not %d bytes in hex", path, MasterKeySize)
	}
	return key, nil
}

// WriteMasterKey creates a new master key file with mode 0600, refusing to
// overwrite one that exists.
func WriteMasterKey(path string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	_, err = fmt.Fprintf(f, "%x\n", key)
	if err2 := f.Sync(); err == nil {
		err = err2
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("master key: %w", err)
	}
	return nil
}

// NewMasterKey reads a fresh key from rand.
func NewMasterKey(rand io.Reader) ([]byte, error) {
	key := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, fmt.Errorf("failed to make a master key: %w", err)
	}
	return key, nil
}

// keyring holds the keys derived from one master key.
type keyring struct {
	fingerprint string
	seal        cipher.AEAD // AES-256-GCM for secrets at rest
	audit       []byte      // HMAC-SHA256 key of the audit chain
	head        []byte      // HMAC-SHA256 key of the audit head
	rand        io.Reader
}

func newKeyring(master []byte, rand io.Reader) (*keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key of %d bytes (want %d)", len(master), MasterKeySize)
	}
	derive := func(label string) []byte {
		k := make([]byte, 32)
		if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte(label)), k); err != nil {
			panic(err) // HKDF-SHA256 cannot fail for 32 bytes
		}
		return k
	}
	block, err := aes.NewCipher(derive("keydesk seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keyring{
		fingerprint: Fingerprint(master),
		seal:        aead,
		audit:       derive("keydesk audit v1"),
		head:        derive("keydesk audit head v1"),
		rand:        rand,
	}, nil
}

const sealVersion = 1

// sealValue encrypts plain with AES-256-GCM, binding it to the row it is
// stored in through the additional data, so a sealed value copied into
// another row does not open.
func (k *keyring) sealValue(plain []byte, row string) ([]byte, error) {
	out := make([]byte, 1+k.seal.NonceSize(), 1+k.seal.NonceSize()+len(plain)+k.seal.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(k.rand, out[1:]); err != nil {
		return nil, fmt.Errorf("failed to seal: %w", err)
	}
	return k.seal.Seal(out, out[1:], plain, []byte(row)), nil
}

// openValue reverses sealValue.
func (k *keyring) openValue(sealed []byte, row string) ([]byte, error) {
	n := k.seal.NonceSize()
	if len(sealed) < 1+n+k.seal.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("sealed value of %s is malformed", row)
	}
	plain, err := k.seal.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(row))
	if err != nil {
		return nil, fmt.Errorf("sealed value of %s does not open: it was altered or moved from another row", row)
	}
	return plain, nil
}

// keyedHash is a MAC for values shown once and only ever compared, such as
// bypass codes and API keys: knowing the database alone is not enough to
// test guesses offline.
func keyedHash(key []byte, label string, value []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(value)
	return m.Sum(nil)
}

// auditMAC chains an audit entry to its predecessor's MAC. Every field is
// length-prefixed so that no two different entries encode alike.
func (k *keyring) auditMAC(prev []byte, e *AuditEntry) []byte {
	m := hmac.New(sha256.New, k.audit)
	var b bytes.Buffer
	field := func(p []byte) {
		b.Write(binary.AppendUvarint(nil, uint64(len(p))))
		b.Write(p)
	}
	field(prev)
	field(binary.BigEndian.AppendUint64(nil, uint64(e.ID)))
	field(binary.BigEndian.AppendUint64(nil, uint64(e.At.Unix())))
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Subject))
	field([]byte(e.Detail))
	m.Write(b.Bytes())
	return m.Sum(nil)
}
