package u2f

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// PINProtocol is a PIN/UV auth protocol (CTAP 2.1 §6.5.6, §6.5.7). Both
// sides of each live here: the platform's (hid) and the authenticator's
// (the soft key).
type PINProtocol uint64

const (
	PINProtocolOne PINProtocol = 1
	PINProtocolTwo PINProtocol = 2
)

// ErrPINProtocol is returned for a protocol number other than 1 and 2.
var ErrPINProtocol = errors.New("unsupported PIN/UV auth protocol")

// ErrDecrypt is returned for a ciphertext of a length the protocol never
// produces.
var ErrDecrypt = errors.New("ciphertext is not a whole number of AES blocks")

func (p PINProtocol) check() error {
	if p != PINProtocolOne && p != PINProtocolTwo {
		return fmt.Errorf("%w %d", ErrPINProtocol, uint64(p))
	}
	return nil
}

// SharedSecret is the secret both sides derive from one ECDH exchange
// (§6.5.6 and §6.5.7, kdf). It is never printed.
type SharedSecret struct {
	proto   PINProtocol
	hmacKey []byte
	aesKey  []byte
}

func (s *SharedSecret) String() string {
	return fmt.Sprintf("shared secret (PIN protocol %d)", s.proto)
}

// GoString keeps the keys out of %#v.
func (s *SharedSecret) GoString() string { return s.String() }

// Protocol returns the protocol the secret was made for.
func (s *SharedSecret) Protocol() PINProtocol { return s.proto }

// kdf: protocol 1 is SHA-256(Z), one key for both uses (§6.5.6);
// protocol 2 is HKDF-SHA-256 with a salt of 32 zero bytes into an HMAC
// key and an AES key (§6.5.7).
func (p PINProtocol) kdf(z []byte) (*SharedSecret, error) {
	if p == PINProtocolOne {
		k := sha256.Sum256(z)
		return &SharedSecret{proto: p, hmacKey: k[:], aesKey: k[:]}, nil
	}
	salt := make([]byte, 32)
	hk, err := hkdf.Key(sha256.New, z, salt, "CTAP2 HMAC key", 32)
	if err != nil {
		return nil, err
	}
	ak, err := hkdf.Key(sha256.New, z, salt, "CTAP2 AES key", 32)
	if err != nil {
		return nil, err
	}
	return &SharedSecret{proto: p, hmacKey: hk, aesKey: ak}, nil
}

// NewKeyAgreementKey makes an authenticator's (or a platform's) ECDH
// P-256 key (§6.5.6 initialize and regenerate).
func NewKeyAgreementKey(rand io.Reader) (*ecdh.PrivateKey, error) {
	return ecdh.P256().GenerateKey(rand)
}

// Encapsulate is the platform's side (§6.5.6 encapsulate): a fresh key
// pair, ECDH with the authenticator's key, and the shared secret. The
// platform sends the returned public key as keyAgreement.
func (p PINProtocol) Encapsulate(rand io.Reader, peer *ecdh.PublicKey) (*ecdh.PublicKey, *SharedSecret, error) {
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	priv, err := NewKeyAgreementKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("making key agreement key: %w", err)
	}
	s, err := p.Decapsulate(priv, peer)
	if err != nil {
		return nil, nil, err
	}
	return priv.PublicKey(), s, nil
}

// Decapsulate is the authenticator's side (§6.5.6 decapsulate): ECDH of
// its key with the platform's, then kdf. ECDH on P-256 yields the
// x-coordinate, the Z of the spec.
func (p PINProtocol) Decapsulate(priv *ecdh.PrivateKey, peer *ecdh.PublicKey) (*SharedSecret, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("key agreement: %w", err)
	}
	return p.kdf(z)
}

// Encrypt is AES-256-CBC without padding: with an IV of zero for
// protocol 1, with a random IV sent before the ciphertext for protocol 2.
// The plaintext must be a whole number of blocks.
func (s *SharedSecret) Encrypt(rand io.Reader, plaintext []byte) ([]byte, error) {
	if len(plaintext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("plaintext of %d bytes is not a whole number of AES blocks", len(plaintext))
	}
	block, err := aes.NewCipher(s.aesKey)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aes.BlockSize)
	if s.proto == PINProtocolTwo {
		if _, err := io.ReadFull(rand, iv); err != nil {
			return nil, fmt.Errorf("making IV: %w", err)
		}
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plaintext)
	if s.proto == PINProtocolTwo {
		out = append(iv, out...)
	}
	return out, nil
}

// Decrypt undoes Encrypt.
func (s *SharedSecret) Decrypt(ciphertext []byte) ([]byte, error) {
	iv := make([]byte, aes.BlockSize)
	if s.proto == PINProtocolTwo {
		if len(ciphertext) < aes.BlockSize {
			return nil, ErrDecrypt
		}
		iv, ciphertext = ciphertext[:aes.BlockSize], ciphertext[aes.BlockSize:]
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, ErrDecrypt
	}
	block, err := aes.NewCipher(s.aesKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ciphertext)
	return out, nil
}

// Authenticate is HMAC-SHA-256 under the secret's HMAC key: the first 16
// bytes for protocol 1, all 32 for protocol 2.
func (s *SharedSecret) Authenticate(message []byte) []byte {
	return s.proto.authenticate(s.hmacKey, message)
}

// Verify checks a pinUvAuthParam made with Authenticate, in constant time.
func (s *SharedSecret) Verify(message, param []byte) bool {
	return s.proto.verify(s.hmacKey, message, param)
}

func (p PINProtocol) authenticate(key, message []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(message)
	sum := m.Sum(nil)
	if p == PINProtocolOne {
		return sum[:16]
	}
	return sum
}

func (p PINProtocol) verify(key, message, param []byte) bool {
	want := p.authenticate(key, message)
	return len(param) == len(want) && subtle.ConstantTimeCompare(want, param) == 1
}

// PINToken is a pinUvAuthToken the platform holds (§6.5.2): the key that
// proves, request by request, that the user gave the PIN. It is never
// printed.
type PINToken struct {
	Protocol    PINProtocol
	Permissions Permission // as asked for; zero for getPinToken
	RPID        string     // the permissions RP ID, if any
	key         []byte
}

// PINTokenSize is the size of the tokens the soft key hands out; CTAP
// 2.1 §6.5.2 allows 16 or 32 bytes for protocol 1 and 32 for protocol 2.
const PINTokenSize = 32

// DecryptPINToken takes the token out of a clientPIN answer.
func (s *SharedSecret) DecryptPINToken(enc []byte) (*PINToken, error) {
	key, err := s.Decrypt(enc)
	if err != nil {
		return nil, fmt.Errorf("pinUvAuthToken: %w", err)
	}
	if len(key) != 32 && !(s.proto == PINProtocolOne && len(key) == 16) {
		return nil, fmt.Errorf("pinUvAuthToken of %d bytes", len(key))
	}
	return &PINToken{Protocol: s.proto, key: key}, nil
}

func (t *PINToken) String() string {
	return fmt.Sprintf("pinUvAuthToken (protocol %d, permissions 0x%02x)", t.Protocol, byte(t.Permissions))
}

// GoString keeps the key out of %#v.
func (t *PINToken) GoString() string { return t.String() }

// Param is the pinUvAuthParam of a request: authenticate(token, message)
// (§6.5.6, §6.5.7).
func (t *PINToken) Param(message []byte) []byte { return t.Protocol.authenticate(t.key, message) }

// VerifyParam is the authenticator's check of a pinUvAuthParam made with
// its token (§6.5.6 verify), in constant time.
func (p PINProtocol) VerifyParam(token, message, param []byte) bool {
	return p.check() == nil && p.verify(token, message, param)
}

// Permission is a set of pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
type Permission byte

const (
	PermMakeCredential       Permission = 0x01 // mc
	PermGetAssertion         Permission = 0x02 // ga
	PermCredentialManagement Permission = 0x04 // cm
	PermBioEnrollment        Permission = 0x08 // be
	PermLargeBlobWrite       Permission = 0x10 // lbw
	PermAuthenticatorConfig  Permission = 0x20 // acfg
)
