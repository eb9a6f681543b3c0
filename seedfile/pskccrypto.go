package seedfile

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Algorithm identifiers PSKC files use (RFC 6030 §6; XML Encryption 1.0
// §5.2, §5.6; XML Encryption 1.1 §5.4.2; RFC 6931 for the SHA-2 HMACs).
const (
	nsXenc    = "http://www.w3.org/2001/04/xmlenc#"
	nsXenc11  = "http://www.w3.org/2009/xmlenc11#"
	nsDS      = "http://www.w3.org/2000/09/xmldsig#"
	nsDSMore  = "http://www.w3.org/2001/04/xmldsig-more#"
	nsPKCS5   = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#"
	nsPSKC    = "urn:ietf:params:xml:ns:keyprov:pskc"
	uriPBKDF2 = nsPKCS5 + "pbkdf2"
)

// blockCipher describes one EncryptionMethod keydesk can undo.
type blockCipher struct {
	keyLen int
	wrap   bool // RFC 3394 key wrap rather than CBC
}

func cipherFor(uri string) (blockCipher, error) {
	switch uri {
	case nsXenc + "aes128-cbc":
		return blockCipher{16, false}, nil
	case nsXenc + "aes192-cbc":
		return blockCipher{24, false}, nil
	case nsXenc + "aes256-cbc":
		return blockCipher{32, false}, nil
	case nsXenc + "kw-aes128":
		return blockCipher{16, true}, nil
	case nsXenc + "kw-aes192":
		return blockCipher{24, true}, nil
	case nsXenc + "kw-aes256":
		return blockCipher{32, true}, nil
	case "":
		return blockCipher{}, errors.New("EncryptionMethod without Algorithm")
	}
	return blockCipher{}, fmt.Errorf("%w cipher %q", ErrUnsupported, truncate(uri, 80))
}

// hashFor maps an HMAC algorithm URI (or a PBKDF2 PRF URI) to its hash.
// Only the fragment is compared, so the pkcs5, xmldsig and xmldsig-more
// spellings of the same HMAC are all accepted.
func hashFor(uri string) (func() hash.Hash, error) {
	frag := uri
	if i := strings.LastIndexByte(uri, '#'); i >= 0 {
		frag = uri[i+1:]
	}
	switch frag {
	case "hmac-sha1", "hmacWithSHA1":
		return sha1.New, nil
	case "hmac-sha224", "hmacWithSHA224":
		return sha256.New224, nil
	case "hmac-sha256", "hmacWithSHA256":
		return sha256.New, nil
	case "hmac-sha384", "hmacWithSHA384":
		return sha512.New384, nil
	case "hmac-sha512", "hmacWithSHA512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w MAC algorithm %q", ErrUnsupported, truncate(uri, 80))
}

var (
	errPadding = errors.New("bad padding")
	errUnwrap  = errors.New("key unwrap integrity check failed")
)

// decrypt undoes one CipherValue: IV || AES-CBC ciphertext with PKCS#7
// padding (XML Encryption §5.2), or an RFC 3394 (or RFC 5649) key wrap.
func decrypt(c blockCipher, key, data []byte) ([]byte, error) {
	if len(key) != c.keyLen {
		return nil, fmt.Errorf("%w: key of %d bytes for a cipher that takes %d", ErrWrongKey, len(key), c.keyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if c.wrap {
		return unwrap(block, data)
	}
	if len(data) < 2*aes.BlockSize || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("CipherValue of %d bytes: want IV and whole AES blocks", len(data))
	}
	out := make([]byte, len(data)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, data[:aes.BlockSize]).CryptBlocks(out, data[aes.BlockSize:])
	p := int(out[len(out)-1])
	if p == 0 || p > aes.BlockSize {
		return nil, errPadding
	}
	bad := 0
	for _, b := range out[len(out)-p:] {
		bad |= int(b) ^ p
	}
	if bad != 0 {
		return nil, errPadding
	}
	return out[:len(out)-p], nil
}

// encryptCBC is decrypt's inverse for the writer: IV || AES-CBC(PKCS#7(p)).
func encryptCBC(key, iv, p []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(p)%aes.BlockSize
	out := make([]byte, aes.BlockSize+len(p)+pad)
	copy(out, iv)
	copy(out[aes.BlockSize:], p)
	for i := len(out) - pad; i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out[aes.BlockSize:], out[aes.BlockSize:])
	return out, nil
}

// The initial values of RFC 3394 §2.2.3.1 and RFC 5649 §3.
var (
	kwIV  = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}
	kwpIV = [4]byte{0xA6, 0x59, 0x59, 0xA6}
)

// unwrap is RFC 3394 §2.2.2 (index-based form). A result whose integrity
// value is RFC 5649's alternative IV is unpadded as that RFC says, so both
// plain and padded wraps are read.
func unwrap(block cipher.Block, c []byte) ([]byte, error) {
	if len(c) < 16 || len(c)%8 != 0 {
		return nil, fmt.Errorf("wrapped key of %d bytes: want a multiple of 8, at least 16", len(c))
	}
	n := len(c)/8 - 1
	var a, b [16]byte
	r := make([]byte, n*8)
	copy(a[:8], c[:8])
	copy(r, c[8:])
	if n == 1 {
		// RFC 5649 §4.2: one block is plain AES, not the wrap loop.
		block.Decrypt(b[:], c)
		copy(a[:8], b[:8])
		copy(r, b[8:])
	} else {
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:8])^t)
				copy(b[8:], r[(i-1)*8:i*8])
				block.Decrypt(b[:], b[:])
				copy(a[:8], b[:8])
				copy(r[(i-1)*8:i*8], b[8:])
			}
		}
	}
	if n > 1 && subtle.ConstantTimeCompare(a[:8], kwIV[:]) == 1 {
		return r, nil
	}
	if subtle.ConstantTimeCompare(a[:4], kwpIV[:]) == 1 {
		mli := int(binary.BigEndian.Uint32(a[4:8]))
		if mli > 8*(n-1) && mli <= 8*n {
			pad := 0
			for _, x := range r[mli:] {
				pad |= int(x)
			}
			if pad == 0 {
				return r[:mli], nil
			}
		}
	}
	return nil, errUnwrap
}

// wrap is RFC 3394 §2.2.1, or RFC 5649 when p is not whole 64-bit blocks.
func wrap(key, p []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var a [8]byte
	if len(p)%8 == 0 && len(p) >= 16 {
		a = kwIV
	} else {
		copy(a[:4], kwpIV[:])
		binary.BigEndian.PutUint32(a[4:], uint32(len(p)))
		p = append(p[:len(p):len(p)], make([]byte, (8-len(p)%8)%8)...)
	}
	n := len(p) / 8
	out := make([]byte, 8+len(p))
	var b [16]byte
	if n == 1 {
		copy(b[:8], a[:])
		copy(b[8:], p)
		block.Encrypt(out, b[:])
		return out, nil
	}
	r := out[8:]
	copy(r, p)
	for j := 0; j <= 5; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], a[:])
			copy(b[8:], r[(i-1)*8:i*8])
			block.Encrypt(b[:], b[:])
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^uint64(n*j+i))
			copy(r[(i-1)*8:i*8], b[8:])
		}
	}
	copy(out, a[:])
	return out, nil
}

// maxIterations caps PBKDF2's work so that a hostile file cannot keep
// keydesk busy for minutes; real files use 1,000 to a few 100,000. It is a
// variable so that the fuzz tests can lower it.
var maxIterations = 10_000_000

// pbkdf2Params is a DerivedKey's KeyDerivationMethod (RFC 6030 §6.2,
// PKCS #5 v2.0 Appendix A.2, XML Encryption 1.1 §5.4.2).
type pbkdf2Params struct {
	salt       []byte
	iterations int
	keyLen     int    // 0: as long as the cipher's key
	prf        string // "" is HMAC-SHA1
}

func (p pbkdf2Params) derive(password []byte, keyLen int) ([]byte, error) {
	if p.keyLen != 0 {
		keyLen = p.keyLen
	}
	h := sha1.New
	if p.prf != "" {
		var err error
		if h, err = hashFor(p.prf); err != nil {
			return nil, fmt.Errorf("PBKDF2 PRF: %w", err)
		}
	}
	return pbkdf2.Key(h, string(password), p.salt, p.iterations, keyLen)
}

// newMAC returns the HMAC a MACMethod names, keyed with key.
func newMAC(uri string, key []byte) (hash.Hash, error) {
	h, err := hashFor(uri)
	if err != nil {
		return nil, err
	}
	return hmac.New(h, key), nil
}
