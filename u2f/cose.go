package u2f

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"

	"filippo.io/edwards25519"
	"github.com/fxamacker/cbor/v2"
)

// COSEAlgorithm is a COSE algorithm identifier (IANA COSE Algorithms
// registry; RFC 9053).
type COSEAlgorithm int64

// The algorithms keydesk handles.
const (
	ES256 COSEAlgorithm = -7 // ECDSA P-256 with SHA-256 (RFC 9053 §2.1)
	EdDSA COSEAlgorithm = -8 // Ed25519 (RFC 9053 §2.2)
	// ECDHESHKDF256 marks a key-agreement key of the PIN/UV auth
	// protocols (CTAP 2.1 §6.5.6: "alg" -25, though neither side runs
	// the HKDF that the name says).
	ECDHESHKDF256 COSEAlgorithm = -25
	RS256         COSEAlgorithm = -257 // listed by some keys; not handled here
)

func (a COSEAlgorithm) String() string {
	switch a {
	case ES256:
		return "ES256"
	case EdDSA:
		return "EdDSA"
	case ECDHESHKDF256:
		return "ECDH-ES+HKDF-256"
	case RS256:
		return "RS256"
	}
	return "COSE algorithm " + strconv.FormatInt(int64(a), 10)
}

// COSE key types and curves (RFC 9053 §7).
const (
	ktyOKP   = 1
	ktyEC2   = 2
	crvP256  = 1
	crvEd255 = 6
)

// coseKeyWire is a COSE_Key map (RFC 9052 §7) with the parameters CTAP
// uses: kty 1, alg 3, crv -1, x -2, y -3. Other parameters are ignored.
type coseKeyWire struct {
	Kty int64  `cbor:"1,keyasint"`
	Alg int64  `cbor:"3,keyasint,omitempty"`
	Crv int64  `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint,omitempty"`
}

// COSEKey is a credential public key as an authenticator sends it.
type COSEKey struct {
	Algorithm COSEAlgorithm
	// Public is an *ecdsa.PublicKey on P-256 (ES256) or an
	// ed25519.PublicKey (EdDSA).
	Public crypto.PublicKey
	Raw    []byte // the COSE_Key as sent
}

// ErrUnsupportedKey is matched by the errors of ParseCOSEKey for a key
// that may be valid but is of a type keydesk does not handle (RSA, P-384).
var ErrUnsupportedKey = errors.New("unsupported COSE key")

// ParseCOSEKey reads a credential public key: EC2 on P-256 with ES256 or
// OKP Ed25519 with EdDSA. A point off its curve is refused. On error it
// returns nil.
func ParseCOSEKey(b []byte) (*COSEKey, error) {
	// The key type decides what the other parameters are (RFC 9053 §7:
	// for RSA, -1 is the modulus), so it is read first.
	var m map[int64]cbor.RawMessage
	if err := decode("COSE key", b, &m); err != nil {
		return nil, err
	}
	var kty, alg int64
	if err := strict.Unmarshal(m[1], &kty); err != nil {
		return nil, fmt.Errorf("COSE key: key 1 (kty): %v", err)
	}
	if err := strict.Unmarshal(m[3], &alg); err != nil {
		return nil, fmt.Errorf("COSE key: key 3 (alg): %v", err)
	}
	if !(kty == ktyEC2 && alg == int64(ES256)) && !(kty == ktyOKP && alg == int64(EdDSA)) {
		return nil, fmt.Errorf("COSE key: key type %d with algorithm %v: %w", kty, COSEAlgorithm(alg), ErrUnsupportedKey)
	}
	var w coseKeyWire
	if err := decode("COSE key", b, &w); err != nil {
		return nil, err
	}
	k := &COSEKey{Algorithm: COSEAlgorithm(w.Alg), Raw: append([]byte(nil), b...)}
	switch {
	case w.Kty == ktyEC2 && k.Algorithm == ES256:
		pub, err := ec2Point("COSE key", w)
		if err != nil {
			return nil, err
		}
		k.Public = pub
	case w.Kty == ktyOKP && k.Algorithm == EdDSA:
		if w.Crv != crvEd255 {
			return nil, fmt.Errorf("COSE key: EdDSA on curve %d, want 6 (Ed25519): %w", w.Crv, ErrUnsupportedKey)
		}
		if len(w.X) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("COSE key: key -2 (x) has %d bytes, want 32", len(w.X))
		}
		if _, err := new(edwards25519.Point).SetBytes(w.X); err != nil {
			return nil, fmt.Errorf("COSE key: Ed25519 point not on the curve")
		}
		k.Public = ed25519.PublicKey(append([]byte(nil), w.X...))
	default:
		return nil, fmt.Errorf("COSE key: key type %d with algorithm %v: %w", w.Kty, k.Algorithm, ErrUnsupportedKey)
	}
	return k, nil
}

// ec2Point checks an EC2 P-256 key and returns its point.
func ec2Point(what string, w coseKeyWire) (*ecdsa.PublicKey, error) {
	if w.Crv != crvP256 {
		return nil, fmt.Errorf("%s: EC2 curve %d, want 1 (P-256): %w", what, w.Crv, ErrUnsupportedKey)
	}
	if len(w.X) != 32 || len(w.Y) != 32 {
		return nil, fmt.Errorf("%s: coordinates of %d and %d bytes, want 32 each", what, len(w.X), len(w.Y))
	}
	pt := append(append([]byte{0x04}, w.X...), w.Y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, fmt.Errorf("%s: P-256 point not on the curve", what)
	}
	return pub, nil
}

// NewCOSEKey encodes a credential public key: an *ecdsa.PublicKey on
// P-256 (ES256) or an ed25519.PublicKey (EdDSA).
func NewCOSEKey(pub crypto.PublicKey) (*COSEKey, error) {
	var w coseKeyWire
	var alg COSEAlgorithm
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("COSE key: ECDSA on %s: %w", p.Curve.Params().Name, ErrUnsupportedKey)
		}
		pt, err := p.Bytes()
		if err != nil {
			return nil, fmt.Errorf("COSE key: %w", err)
		}
		alg, w = ES256, coseKeyWire{Kty: ktyEC2, Alg: int64(ES256), Crv: crvP256, X: pt[1:33], Y: pt[33:]}
	case ed25519.PublicKey:
		alg, w = EdDSA, coseKeyWire{Kty: ktyOKP, Alg: int64(EdDSA), Crv: crvEd255, X: []byte(p)}
	default:
		return nil, fmt.Errorf("COSE key: %T: %w", pub, ErrUnsupportedKey)
	}
	raw, err := encode(w)
	if err != nil {
		return nil, err
	}
	return &COSEKey{Algorithm: alg, Public: pub, Raw: raw}, nil
}

// ErrBadSignature is returned by [COSEKey.Verify] for a signature that
// does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Verify checks sig over signed: ECDSA (ASN.1 DER) over SHA-256 for
// ES256, Ed25519 over the message itself for EdDSA (WebAuthn §6.5.6).
func (k *COSEKey) Verify(signed, sig []byte) error {
	switch p := k.Public.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(signed)
		if ecdsa.VerifyASN1(p, d[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(p, signed, sig) {
			return nil
		}
	default:
		return ErrUnsupportedKey
	}
	return ErrBadSignature
}

// parseKeyAgreement reads the ECDH P-256 key of the PIN/UV auth protocols
// (CTAP 2.1 §6.5.6: EC2, P-256, alg -25).
func parseKeyAgreement(b []byte) (*ecdh.PublicKey, error) {
	var w coseKeyWire
	if err := decode("key agreement", b, &w); err != nil {
		return nil, err
	}
	if w.Kty != ktyEC2 {
		return nil, fmt.Errorf("key agreement: key type %d, want 2 (EC2)", w.Kty)
	}
	pub, err := ec2Point("key agreement", w)
	if err != nil {
		return nil, err
	}
	return pub.ECDH()
}

// keyAgreementWire encodes an ECDH P-256 public key for the PIN/UV auth
// protocols.
func keyAgreementWire(pub *ecdh.PublicKey) coseKeyWire {
	pt := pub.Bytes() // 0x04 || X || Y
	return coseKeyWire{Kty: ktyEC2, Alg: int64(ECDHESHKDF256), Crv: crvP256, X: pt[1:33], Y: pt[33:]}
}
