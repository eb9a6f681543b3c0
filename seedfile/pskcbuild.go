package seedfile

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"strconv"

	"github.com/keydesk/keydesk/fob"
)

// header is what a KeyContainer says before its first KeyPackage about how
// its values are protected, and the keys worked out from it on demand.
type header struct {
	encKey       bool // an EncryptionKey element was present
	derived      bool // ... holding a DerivedKey (password) rather than a KeyName (PSK)
	kdf          pbkdf2Params
	macURI       string
	macKeyAlg    string
	macKeyCipher []byte // base64

	key      []byte // the encryption key, once known
	keyErr   error
	mac      hash.Hash
	macErr   error
	macSum   []byte
	verified int // the first KeyPackage whose MAC matched, 0 if none yet
}

func (h *header) checkKDF(p *pskcReader) error {
	h.derived = true
	if len(h.kdf.salt) == 0 {
		return p.errorf("PBKDF2 without a salt")
	}
	if h.kdf.iterations == 0 {
		return p.errorf("PBKDF2 without an IterationCount")
	}
	return nil
}

// errMACMismatch is internal: [pskcReader.macFailure] decides whether it
// means a wrong key or an altered file.
var errMACMismatch = errors.New("value MAC does not match")

// encKey returns the key that decrypts values, asking for the password the
// first time a file derives its key from one.
func (p *pskcReader) encKey(keyLen int) ([]byte, error) {
	h := &p.hdr
	if h.key != nil || h.keyErr != nil {
		return h.key, h.keyErr
	}
	switch {
	case h.derived:
		if p.keys.Password == nil {
			h.keyErr = fmt.Errorf("%w: the file derives its key from a password", ErrNeedKey)
			break
		}
		pw, err := p.keys.Password()
		if err != nil {
			h.keyErr = fmt.Errorf("failed to read the password: %w", err)
			break
		}
		h.key, h.keyErr = h.kdf.derive(pw, keyLen)
		clear(pw)
	case len(p.keys.PSK) == 0:
		h.keyErr = fmt.Errorf("%w: the file's values are encrypted under a pre-shared key", ErrNeedKey)
	default:
		h.key = p.keys.PSK
	}
	return h.key, h.keyErr
}

// macHash returns the HMAC keyed with the file's MAC key. RFC 6030 §6.1.1:
// the MAC key is random and travels encrypted under the encryption key in
// MACMethod/MACKey. Drafts before the RFC had no MACKey and used the
// encryption key itself; such files are read the same way.
func (p *pskcReader) macHash() (hash.Hash, error) {
	h := &p.hdr
	if h.mac != nil || h.macErr != nil {
		return h.mac, h.macErr
	}
	h.mac, h.macErr = p.openMACKey()
	return h.mac, h.macErr
}

func (p *pskcReader) openMACKey() (hash.Hash, error) {
	h := &p.hdr
	if h.macKeyAlg == "" && len(h.macKeyCipher) == 0 {
		key, err := p.encKey(16)
		if err != nil {
			return nil, err
		}
		return newMAC(h.macURI, key)
	}
	c, err := cipherFor(h.macKeyAlg)
	if err != nil {
		return nil, fmt.Errorf("MACKey: %w", err)
	}
	raw, err := decodeBase64(h.macKeyCipher)
	if err != nil {
		return nil, errors.New("bad base64 in MACKey CipherValue")
	}
	key, err := p.encKey(c.keyLen)
	if err != nil {
		return nil, err
	}
	mk, err := decrypt(c, key, raw)
	if err == errPadding || err == errUnwrap || err == nil && len(mk) == 0 {
		// The MAC key is random bytes, so the only check its decryption
		// has is the padding (or the key wrap's integrity value): failing
		// it means the key or password is wrong.
		return nil, fmt.Errorf("%w: the MAC key does not decrypt with it", ErrWrongKey)
	}
	if err != nil {
		return nil, fmt.Errorf("MACKey: %w", err)
	}
	return newMAC(h.macURI, mk)
}

// open checks the MAC of an encrypted value and decrypts it.
func (p *pskcReader) open(name string, v *dataValue) ([]byte, error) {
	c, raw, err := p.checkMAC(name, v)
	if err != nil {
		return nil, err
	}
	key, err := p.encKey(c.keyLen)
	if err != nil {
		return nil, err
	}
	out, err := decrypt(c, key, raw)
	if err == errPadding || err == errUnwrap {
		return nil, fmt.Errorf("%w: %s does not decrypt (%v)", ErrWrongKey, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// checkMAC verifies v's ValueMAC over IV || ciphertext, the whole decoded
// CipherValue (RFC 6030 §6.1.1), and returns the cipher and that value.
func (p *pskcReader) checkMAC(name string, v *dataValue) (blockCipher, []byte, error) {
	c, err := cipherFor(string(v.alg))
	if err != nil {
		return c, nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(v.cipher) == 0 {
		return c, nil, fmt.Errorf("%s: EncryptedValue without CipherValue", name)
	}
	if len(v.cipher) > maxCipher {
		return c, nil, fmt.Errorf("%s: CipherValue longer than %d bytes", name, maxCipher)
	}
	raw, err := decodeBase64(v.cipher)
	if err != nil {
		return c, nil, fmt.Errorf("bad base64 in %s CipherValue", name)
	}
	h := &p.hdr
	switch {
	case h.macURI == "" && len(v.mac) > 0:
		return c, nil, fmt.Errorf("%s has a ValueMAC but the file has no MACMethod", name)
	case h.macURI == "" && c.wrap, h.macURI != "" && len(v.mac) == 0 && c.wrap:
		return c, raw, nil // the key wrap carries its own integrity check
	case h.macURI == "":
		return c, nil, fmt.Errorf("%s is encrypted with AES-CBC but the file has no MACMethod: its integrity cannot be checked", name)
	case len(v.mac) == 0:
		return c, nil, fmt.Errorf("%s: EncryptedValue without ValueMAC", name)
	}
	want, err := decodeBase64(v.mac)
	if err != nil {
		return c, nil, fmt.Errorf("bad base64 in %s ValueMAC", name)
	}
	mac, err := p.macHash()
	if err != nil {
		return c, nil, err
	}
	mac.Reset()
	mac.Write(raw)
	h.macSum = mac.Sum(h.macSum[:0])
	if !hmac.Equal(h.macSum, want) {
		return c, nil, errMACMismatch
	}
	if h.verified == 0 {
		h.verified = p.record
	}
	return c, raw, nil
}

// maxProbe bounds how far macFailure reads on to tell a wrong key from an
// altered file.
const maxProbe = 1000

// macFailure decides what a value whose MAC does not match means.
//
// The MAC key is random and travels encrypted, so its decryption has only
// the padding to tell a wrong key: a wrong key passes that check about once
// in 256 tries, and then every value's MAC fails. A value whose MAC fails
// while another value's MAC matches under the same MAC key cannot be a
// wrong key (HMAC keys that differ do not agree on a value): that file was
// altered. So: if some value already verified, the file was altered; if
// not, read on (the file is rejected anyway) and look for a value that
// does verify; if one does, the file was altered, and if none does, the
// key is wrong. With no other value to try the two cannot be told apart,
// and the likelier one, a wrong key, is reported.
func (p *pskcReader) macFailure(name string) error {
	h := &p.hdr
	if h.verified != 0 {
		return fmt.Errorf("%w: %s fails its MAC, though KeyPackage %d verified with the same key", ErrBadMAC, name, h.verified)
	}
	saved := position{p.record, p.kp.line, p.kp.serial, string(p.kp.keyID)}
	tried := 0
	for i := 0; i < maxProbe; i++ {
		p.inKP = false
		for !p.inKP {
			if p.step() != nil || p.sc.kind == tokEOF {
				goto done
			}
		}
		if p.readKeyPackage() != nil {
			break
		}
		for j := range p.kp.values {
			v := &p.kp.values[j]
			if !v.encrypted {
				continue
			}
			tried++
			if _, _, err := p.checkMAC("", v); err == nil {
				rec := p.record
				p.restore(saved)
				return fmt.Errorf("%w: %s fails its MAC, though KeyPackage %d verifies with the same key", ErrBadMAC, name, rec)
			}
		}
	}
done:
	p.restore(saved)
	if tried > 0 {
		return fmt.Errorf("%w: no value's MAC matches (the MAC key's padding passed by chance)", ErrWrongKey)
	}
	return fmt.Errorf("%w: %s fails its MAC (or the file was altered: with one encrypted value the two cannot be told apart)", ErrWrongKey, name)
}

// position is what names a KeyPackage in an error.
type position struct {
	record, line  int
	serial, keyID string
}

// restore puts back the position of the failing KeyPackage for the error
// message; the scanner stays where the probe left it, which does not
// matter as the reader is failed for good.
func (p *pskcReader) restore(s position) {
	p.record, p.kp.line, p.kp.serial, p.inKP = s.record, s.line, s.serial, true
	p.kp.keyID = append(p.kp.keyID[:0], s.keyID...)
}

// build turns the KeyPackage just read into a token.
func (p *pskcReader) build() (fob.Token, error) {
	kp := &p.kp
	var t fob.Token
	t.Serial = kp.serial
	if t.Serial == "" {
		t.Serial = string(kp.keyID)
	}
	if string(kp.keyID) != t.Serial {
		t.KeyID = string(kp.keyID)
	}
	if len(kp.alg) == 0 {
		return t, errors.New("the Key has no Algorithm")
	}
	var ok bool
	if t.Kind, ok = keyAlgorithm(kp.alg); !ok {
		return t, fmt.Errorf("%w algorithm %q: keydesk reads HOTP and TOTP keys (%s, %s, or just hotp, totp) and Yubico OTP keys (%s)",
			ErrUnsupported, truncate(string(kp.alg), 80), uriHOTP, uriTOTP, uriYubikeyAES)
	}
	t.Manufacturer, t.Model, t.Issuer, t.Label = kp.manufacturer, kp.model, kp.issuer, kp.friendly
	if err := p.buildParams(&t); err != nil {
		return t, err
	}
	if err := p.buildValues(&t); err != nil {
		return t, err
	}
	if err := p.buildDates(&t); err != nil {
		return t, err
	}
	if err := finish(&t); err != nil {
		return t, err
	}
	return t, nil
}

func (p *pskcReader) buildParams(t *fob.Token) error {
	kp := &p.kp
	if t.Kind == fob.Yubico {
		// Yubico's tools put the ids in the Key's UserId; the user, if
		// any, can only be in DeviceInfo.
		pub, priv, ok := parseYubicoUserID(kp.userID)
		if !ok {
			return errors.New(`the Yubico AES key has no private id (Key UserId "CN=<public id>, UID=<private id hex>")`)
		}
		t.PublicID, t.PrivateID, t.User = pub, priv, kp.devUser
		return nil
	}
	t.User = kp.userID
	if t.User == "" {
		t.User = kp.devUser
	}
	if kp.suite != "" {
		a, err := fob.ParseAlgorithm(kp.suite)
		if err != nil {
			return fmt.Errorf("%w hash in Suite %q", ErrUnsupported, kp.suite)
		}
		t.Algorithm = a
	}
	if kp.hasResp {
		if e := string(kp.respEnc); e != "" && e != "DECIMAL" {
			return fmt.Errorf("%w response encoding %q (want DECIMAL)", ErrUnsupported, truncate(e, 20))
		}
		d, err := strconv.Atoi(string(kp.respLen))
		if err != nil {
			return fmt.Errorf("ResponseFormat Length %q is not a number", truncate(string(kp.respLen), 20))
		}
		if d < 6 || d > 8 {
			return fmt.Errorf("wrong digit count %d (want 6, 7 or 8)", d)
		}
		t.Digits = d
	}
	return nil
}

var valueNames = [5]string{"Secret", "Counter", "Time", "TimeInterval", "TimeDrift"}

func (p *pskcReader) buildValues(t *fob.Token) error {
	kp := &p.kp
	if !kp.values[0].present || !kp.values[0].plain && !kp.values[0].encrypted {
		return errors.New("missing secret")
	}
	for i := range kp.values {
		v := &kp.values[i]
		if !v.present {
			continue
		}
		var raw []byte
		var err error
		switch {
		case v.encrypted:
			raw, err = p.open(valueNames[i], v)
			if err == errMACMismatch {
				return p.macFailure(valueNames[i])
			}
		case v.plain && i == 0:
			raw, err = decodeBase64(v.text)
			if err != nil || len(v.text) > maxCipher {
				return errors.New("bad base64 in Secret PlainValue")
			}
		case v.plain:
			raw = v.text
		default:
			return fmt.Errorf("%s without PlainValue or EncryptedValue", valueNames[i])
		}
		if err != nil {
			return err
		}
		if i == 0 {
			t.Secret = raw
			continue
		}
		if err := setValue(t, i, raw, v.encrypted); err != nil {
			return fmt.Errorf("%s: %v", valueNames[i], err)
		}
	}
	return nil
}
