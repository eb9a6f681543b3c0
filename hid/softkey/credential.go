package softkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/keydesk/keydesk/u2f"
)

// CTAP2 credential IDs. A non-resident credential's ID carries its
// private key like a U2F key handle does: a format byte, the GCM nonce,
// and sealed under the device secret the algorithm, the credProtect
// level and the 32-byte key, with the format byte and the rpIdHash as
// additional data, so that the ID opens only for its site. A resident
// credential's ID is random and names an entry of the state file, so
// that deleting the entry kills the ID.
const (
	credFormat     = 0x02
	credIDSize     = 1 + nonceSize + 2 + 32 + 16
	residentFormat = 0x03
	residentIDSize = 1 + 16
	// maxResident bounds the discoverable credentials the key keeps.
	maxResident = 25
)

// algByte numbers the algorithms inside a sealed credential ID.
var algByte = map[u2f.COSEAlgorithm]byte{u2f.ES256: 1, u2f.EdDSA: 2}

// credential is a credential the key found for a request.
type credential struct {
	id       []byte
	alg      u2f.COSEAlgorithm
	signer   crypto.Signer
	protect  u2f.CredProtect
	resident *residentCred
}

// credentialSigner rebuilds a credential's key from its 32 private bytes.
func credentialSigner(alg u2f.COSEAlgorithm, priv []byte) (crypto.Signer, error) {
	switch alg {
	case u2f.ES256:
		return ecdsa.ParseRawPrivateKey(elliptic.P256(), priv)
	case u2f.EdDSA:
		if len(priv) != ed25519.SeedSize {
			return nil, fmt.Errorf("Ed25519 seed of %d bytes", len(priv))
		}
		return ed25519.NewKeyFromSeed(priv), nil
	}
	return nil, fmt.Errorf("algorithm %v", alg)
}

// newCredentialKey makes a key pair; it returns the private bytes kept in
// a credential ID or the state.
func newCredentialKey(rnd io.Reader, alg u2f.COSEAlgorithm) ([]byte, crypto.Signer, error) {
	priv := make([]byte, 32)
	switch alg {
	case u2f.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
		if err != nil {
			return nil, nil, err
		}
		if priv, err = k.Bytes(); err != nil {
			return nil, nil, err
		}
		return priv, k, nil
	case u2f.EdDSA:
		if _, err := io.ReadFull(rnd, priv); err != nil {
			return nil, nil, err
		}
		return priv, ed25519.NewKeyFromSeed(priv), nil
	}
	return nil, nil, fmt.Errorf("algorithm %v", alg)
}

// signWith signs as WebAuthn §6.5.6 wants for the algorithm: ECDSA
// (ASN.1 DER) over SHA-256, or Ed25519 over the message itself.
func signWith(rnd io.Reader, s crypto.Signer, data []byte) ([]byte, error) {
	if k, ok := s.(*ecdsa.PrivateKey); ok {
		d := sha256.Sum256(data)
		return ecdsa.SignASN1(rnd, k, d[:])
	}
	return s.Sign(rnd, data, crypto.Hash(0))
}

func (k *Key) wrapCredential(rpIDHash []byte, alg u2f.COSEAlgorithm, protect u2f.CredProtect, priv []byte) ([]byte, error) {
	id := make([]byte, 1+nonceSize, credIDSize)
	id[0] = credFormat
	if _, err := io.ReadFull(k.cfg.Rand, id[1:]); err != nil {
		return nil, err
	}
	plain := append([]byte{algByte[alg], byte(protect)}, priv...)
	return k.aead().Seal(id, id[1:], plain, append([]byte{credFormat}, rpIDHash...)), nil
}

var errNoCredential = errors.New("not a credential of this key for this site")

// findCredential opens a credential ID for the site: one of ours sealed
// for rpIdHash, a U2F key handle made for the same application parameter
// (a U2F registration used over CTAP2, as browsers do with the appid
// extension), or a resident credential of rpID.
func (k *Key) findCredential(rpID string, rpIDHash []byte, id []byte) (*credential, error) {
	switch {
	case len(id) == handleSize && id[0] == handleFormat:
		priv, err := k.unwrap(rpIDHash, id)
		if err != nil {
			return nil, errNoCredential
		}
		return &credential{id: id, alg: u2f.ES256, signer: priv, protect: u2f.CredProtectUVOptional}, nil
	case len(id) == credIDSize && id[0] == credFormat:
		plain, err := k.aead().Open(nil, id[1:1+nonceSize], id[1+nonceSize:], append([]byte{credFormat}, rpIDHash...))
		if err != nil {
			return nil, errNoCredential
		}
		var alg u2f.COSEAlgorithm
		for a, b := range algByte {
			if b == plain[0] {
				alg = a
			}
		}
		s, err := credentialSigner(alg, plain[2:])
		if err != nil {
			return nil, errNoCredential
		}
		return &credential{id: id, alg: alg, signer: s, protect: u2f.CredProtect(plain[1])}, nil
	case len(id) == residentIDSize && id[0] == residentFormat:
		for _, c := range k.st.creds {
			if c.RPID == rpID && bytes.Equal(c.ID, id) {
				return k.residentCredential(c)
			}
		}
	}
	return nil, errNoCredential
}

func (k *Key) residentCredential(c *residentCred) (*credential, error) {
	s, err := credentialSigner(c.Alg, c.Private)
	if err != nil {
		return nil, err
	}
	p := c.CredProtect
	if p == 0 {
		p = u2f.CredProtectUVOptional
	}
	return &credential{id: c.ID, alg: c.Alg, signer: s, protect: p, resident: c}, nil
}
