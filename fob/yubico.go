package fob

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Modhex is Yubico's keyboard-layout-independent hex alphabet.
const modhexAlphabet = "cbdefghijklnrtuv"

// EncodeModhex encodes b in modhex.
func EncodeModhex(b []byte) string {
	var sb strings.Builder
	sb.Grow(2 * len(b))
	for _, c := range b {
		sb.WriteByte(modhexAlphabet[c>>4])
		sb.WriteByte(modhexAlphabet[c&0xf])
	}
	return sb.String()
}

// DecodeModhex decodes a modhex string; case is ignored.
func DecodeModhex(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("modhex of odd length %d", len(s))
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		v := strings.IndexByte(modhexAlphabet, c)
		if v < 0 {
			return nil, fmt.Errorf("character %q at %d is not modhex", s[i], i+1)
		}
		out[i/2] = out[i/2]<<4 | byte(v)
	}
	return out, nil
}

// YubicoOTPLen is the length of the encrypted part of a Yubico OTP, in
// modhex characters; the public id stands in front of it.
const YubicoOTPLen = 32

// YubicoFields are the contents of one decrypted Yubico OTP token.
type YubicoFields struct {
	PrivateID  [6]byte
	UseCounter uint16 // non-volatile, 15 bits: grows at each power-up
	CapsLock   bool   // the top bit of the stored counter: typed with Caps Lock on
	Timestamp  uint32 // 24 bits, 8 Hz, from power-up
	SessionUse uint8  // grows with each OTP in one power-up
	Random     uint16
}

// Counter orders OTPs of one fob: use counter first, then session use.
func (f YubicoFields) Counter() uint64 {
	return uint64(f.UseCounter)<<8 | uint64(f.SessionUse)
}

// Errors of [SplitYubicoOTP] and [OpenYubicoOTP].
var (
	ErrNotYubicoOTP = errors.New("not a Yubico OTP")
	//lint:ignore ST1005 Yubico is a name
	ErrYubicoCRC = errors.New("Yubico OTP does not decrypt with this fob's key (CRC mismatch)")
)

// SplitYubicoOTP splits an OTP as typed by a YubiKey into its public id and
// the 16-byte encrypted token.
func SplitYubicoOTP(otp string) (publicID string, token []byte, err error) {
	otp = strings.ToLower(strings.TrimSpace(otp))
	if len(otp) < YubicoOTPLen || len(otp) > YubicoOTPLen+2*maxPublicIDLen {
		return "", nil, fmt.Errorf("%w: %d characters", ErrNotYubicoOTP, len(otp))
	}
	cut := len(otp) - YubicoOTPLen
	if _, err := DecodeModhex(otp[:cut]); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrNotYubicoOTP, err)
	}
	token, err = DecodeModhex(otp[cut:])
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrNotYubicoOTP, err)
	}
	return otp[:cut], token, nil
}

// OpenYubicoOTP decrypts token with key and checks its CRC. It does not
// check the private id or the counters: that is the verifier's decision.
func OpenYubicoOTP(key, token []byte) (YubicoFields, error) {
	var f YubicoFields
	block, err := aes.NewCipher(key)
	if err != nil {
		return f, err
	}
	if len(token) != aes.BlockSize {
		return f, fmt.Errorf("%w: token of %d bytes", ErrNotYubicoOTP, len(token))
	}
	var p [16]byte
	block.Decrypt(p[:], token)
	if crc16(p[:]) != crcResidue {
		return f, ErrYubicoCRC
	}
	copy(f.PrivateID[:], p[0:6])
	use := binary.LittleEndian.Uint16(p[6:8])
	f.UseCounter, f.CapsLock = use&0x7fff, use&0x8000 != 0
	f.Timestamp = uint32(p[8]) | uint32(p[9])<<8 | uint32(p[10])<<16
	f.SessionUse = p[11]
	f.Random = binary.LittleEndian.Uint16(p[12:14])
	return f, nil
}

// SealYubicoOTP makes the OTP a YubiKey with this key and public id would
// type for f: the tests' stand-in for a YubiKey. keydesk never verifies
// with it.
func SealYubicoOTP(key []byte, publicID string, f YubicoFields) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	var p [16]byte
	copy(p[0:6], f.PrivateID[:])
	use := f.UseCounter & 0x7fff
	if f.CapsLock {
		use |= 0x8000
	}
	binary.LittleEndian.PutUint16(p[6:8], use)
	p[8], p[9], p[10] = byte(f.Timestamp), byte(f.Timestamp>>8), byte(f.Timestamp>>16)
	p[11] = f.SessionUse
	binary.LittleEndian.PutUint16(p[12:14], f.Random)
	// The CRC is stored as the one's complement, little-endian, so that the
	// CRC over all 16 bytes comes out as the fixed residue.
	binary.LittleEndian.PutUint16(p[14:16], ^crc16(p[:14]))
	var c [16]byte
	block.Encrypt(c[:], p[:])
	return publicID + EncodeModhex(c[:]), nil
}

// PrivateIDEqual compares private ids in constant time.
func PrivateIDEqual(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// crcResidue is what crc16 gives over a token whose CRC field is right.
const crcResidue = 0xf0b8

// crc16 is the ISO 13239 CRC (reflected polynomial 0x8408, initial 0xffff)
// YubiKeys use, without the final inversion.
func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range b {
		crc ^= uint16(c)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
