package seedfile

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// ExportOptions say how [WritePSKC] protects the secrets it writes. With
// neither PSK nor Password the secrets are written in the clear.
type ExportOptions struct {
	PSK      []byte // pre-shared key: 32 bytes, or 16 with Legacy
	Password []byte // derive the key with PBKDF2
	// Legacy writes AES-128-CBC with HMAC-SHA1 (and PBKDF2-HMAC-SHA1 in
	// RFC 6030 figure 7's layout), which every PSKC reader knows, instead of
	// AES-256-CBC with HMAC-SHA256 (and PBKDF2-HMAC-SHA256 in XML
	// Encryption 1.1's layout).
	Legacy     bool
	Iterations int       // PBKDF2 iterations; 0 means DefaultIterations
	Rand       io.Reader // salt, MAC key and IVs; nil means crypto/rand

	// For tests: any cipher and MAC the reader knows.
	cipherURI, macURI string
}

// DefaultIterations is the PBKDF2 work factor when ExportOptions leave it
// at 0 (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). It is spent once per
// file.
const DefaultIterations = 600_000

// pskcWriter holds what stays the same for every KeyPackage of one export.
type pskcWriter struct {
	w      *bufio.Writer
	rand   io.Reader
	key    []byte
	cipher string
	mac    hash.Hash
	sum    []byte
}

// WritePSKC writes toks as one PSKC (RFC 6030) KeyContainer. Every field a
// [fob.Token] has is written so that [NewReader] reads back the same
// token: the serial as DeviceInfo/SerialNo, KeyID as Key/@Id, the user as
// DeviceInfo/UserId, a Yubico fob's ids as Key/UserId in Yubico's
// "CN=<public id>, UID=<private id>" form, NotBefore and NotAfter as the
// Key's Policy StartDate and ExpiryDate. Only Secret is encrypted; the
// counters stay plain, as RFC 6030 allows. Tokens are validated first; an
// invalid one stops the export with an error that names it.
func WritePSKC(w io.Writer, toks iter.Seq2[fob.Token, error], o ExportOptions) error {
	pw := &pskcWriter{w: bufio.NewWriterSize(w, 64<<10), rand: o.Rand}
	if pw.rand == nil {
		pw.rand = rand.Reader
	}
	if err := pw.header(o); err != nil {
		return err
	}
	n := 0
	for t, err := range toks {
		n++
		if err != nil {
			return err
		}
		t.Normalize()
		if err := t.Validate(); err != nil {
			return fmt.Errorf("fob %d (serial %q): %w", n, t.Serial, err)
		}
		if err := pw.keyPackage(&t); err != nil {
			return fmt.Errorf("fob %d (serial %q): %w", n, t.Serial, err)
		}
	}
	pw.w.WriteString("</KeyContainer>\n")
	return pw.w.Flush()
}

func (pw *pskcWriter) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(pw.rand, b); err != nil {
		return nil, fmt.Errorf("failed to read randomness: %w", err)
	}
	return b, nil
}

func (pw *pskcWriter) header(o ExportOptions) error {
	w := pw.w
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.WriteString(`<KeyContainer Version="1.0" xmlns="` + nsPSKC + `" xmlns:ds="` + nsDS + `" xmlns:xenc="` + nsXenc + `"`)
	if len(o.PSK) > 0 && len(o.Password) > 0 {
		return errors.New("export: give a pre-shared key or a password, not both")
	}
	if len(o.PSK) == 0 && len(o.Password) == 0 {
		w.WriteString(">\n")
		return nil
	}
	cipherURI, macURI, macLen := nsXenc+"aes256-cbc", nsDSMore+"hmac-sha256", 32
	if o.Legacy {
		cipherURI, macURI, macLen = nsXenc+"aes128-cbc", nsDS+"hmac-sha1", 20
	}
	pw.cipher, o.macURI = cmpOr(o.cipherURI, cipherURI), cmpOr(o.macURI, macURI)
	c, err := cipherFor(pw.cipher)
	if err != nil {
		return err
	}
	if len(o.PSK) > 0 {
		if len(o.PSK) != c.keyLen {
			return fmt.Errorf("export: pre-shared key of %d bytes; the cipher takes %d", len(o.PSK), c.keyLen)
		}
		pw.key = o.PSK
		w.WriteString(">\n  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>\n")
	} else if err := pw.derivedKey(o, c.keyLen); err != nil {
		return err
	}
	macKey, err := pw.random(macLen)
	if err != nil {
		return err
	}
	if pw.mac, err = newMAC(o.macURI, macKey); err != nil {
		return err
	}
	enc, err := pw.encrypt(macKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  <MACMethod Algorithm=\"%s\"><MACKey>", o.macURI)
	pw.cipherData(enc)
	w.WriteString("</MACKey></MACMethod>\n")
	return nil
}

// derivedKey writes the EncryptionKey of a password-protected file and
// derives its key (RFC 6030 §6.2).
func (pw *pskcWriter) derivedKey(o ExportOptions, keyLen int) error {
	iter := o.Iterations
	if iter == 0 {
		iter = DefaultIterations
	}
	if iter < 1 || iter > maxIterations {
		return fmt.Errorf("export: %d PBKDF2 iterations (want 1 to %d)", iter, maxIterations)
	}
	salt, err := pw.random(16)
	if err != nil {
		return err
	}
	k := pbkdf2Params{salt: salt, iterations: iter, keyLen: keyLen}
	w, s := pw.w, base64.StdEncoding.EncodeToString(salt)
	if o.Legacy {
		// RFC 6030 figure 7: pkcs5 parameters, children unqualified, SHA-1.
		w.WriteString(` xmlns:xenc11="` + nsXenc11 + `" xmlns:pkcs5="` + nsPKCS5 + `">` + "\n")
		fmt.Fprintf(w, `  <EncryptionKey><xenc11:DerivedKey><xenc11:KeyDerivationMethod Algorithm="%s"><pkcs5:PBKDF2-params xmlns="">`+
			`<Salt><Specified>%s</Specified></Salt><IterationCount>%d</IterationCount><KeyLength>%d</KeyLength><PRF/>`+
			"</pkcs5:PBKDF2-params></xenc11:KeyDerivationMethod></xenc11:DerivedKey></EncryptionKey>\n", uriPBKDF2, s, iter, keyLen)
	} else {
		k.prf = nsDSMore + "hmac-sha256"
		w.WriteString(` xmlns:xenc11="` + nsXenc11 + `">` + "\n")
		fmt.Fprintf(w, `  <EncryptionKey><xenc11:DerivedKey><xenc11:KeyDerivationMethod Algorithm="%spbkdf2"><xenc11:PBKDF2-params>`+
			`<xenc11:Salt><xenc11:Specified>%s</xenc11:Specified></xenc11:Salt><xenc11:IterationCount>%d</xenc11:IterationCount>`+
			`<xenc11:KeyLength>%d</xenc11:KeyLength><xenc11:PRF Algorithm="%s"/></xenc11:PBKDF2-params></xenc11:KeyDerivationMethod>`+
			"</xenc11:DerivedKey></EncryptionKey>\n", nsXenc11, s, iter, keyLen, k.prf)
	}
	pw.key, err = k.derive(o.Password, keyLen)
	return err
}

func (pw *pskcWriter) encrypt(p []byte) ([]byte, error) {
	c, err := cipherFor(pw.cipher)
	if err != nil {
		return nil, err
	}
	if c.wrap {
		return wrap(pw.key, p)
	}
	iv, err := pw.random(16)
	if err != nil {
		return nil, err
	}
	return encryptCBC(pw.key, iv, p)
}

func (pw *pskcWriter) cipherData(enc []byte) {
	fmt.Fprintf(pw.w, `<xenc:EncryptionMethod Algorithm="%s"/><xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData>`,
		pw.cipher, base64.StdEncoding.EncodeToString(enc))
}

func (pw *pskcWriter) keyPackage(t *fob.Token) error {
	w := pw.w
	w.WriteString("  <KeyPackage>\n    <DeviceInfo>")
	element(w, "Manufacturer", t.Manufacturer)
	element(w, "SerialNo", t.Serial)
	element(w, "Model", t.Model)
	element(w, "UserId", t.User)
	w.WriteString("</DeviceInfo>\n")
	alg, length, encoding := uriHOTP, t.Digits, "DECIMAL"
	switch t.Kind {
	case fob.TOTP:
		alg = uriTOTP
	case fob.Yubico:
		alg, length, encoding = uriYubikeyAES, len(t.PublicID)+fob.YubicoOTPLen, "ALPHANUMERIC"
	}
	fmt.Fprintf(w, `    <Key Id="%s" Algorithm="%s">`, escape(cmpOr(t.KeyID, t.Serial), true), alg)
	element(w, "Issuer", t.Issuer)
	w.WriteString("<AlgorithmParameters>")
	if t.Kind != fob.Yubico {
		element(w, "Suite", "HMAC-"+string(t.Algorithm))
	}
	fmt.Fprintf(w, `<ResponseFormat Length="%d" Encoding="%s"/></AlgorithmParameters>`, length, encoding)
	element(w, "FriendlyName", t.Label)
	w.WriteString("\n      <Data><Secret>")
	if pw.key == nil {
		fmt.Fprintf(w, "<PlainValue>%s</PlainValue>", base64.StdEncoding.EncodeToString(t.Secret))
	} else {
		enc, err := pw.encrypt(t.Secret)
		if err != nil {
			return err
		}
		w.WriteString("<EncryptedValue>")
		pw.cipherData(enc)
		pw.mac.Reset()
		pw.mac.Write(enc)
		pw.sum = pw.mac.Sum(pw.sum[:0])
		fmt.Fprintf(w, "</EncryptedValue><ValueMAC>%s</ValueMAC>", base64.StdEncoding.EncodeToString(pw.sum))
	}
	w.WriteString("</Secret>")
	if t.Kind == fob.HOTP || t.Counter != 0 {
		intElement(w, "Counter", strconv.FormatUint(t.Counter, 10))
	}
	if t.Kind == fob.TOTP || t.T0 != 0 {
		intElement(w, "Time", strconv.FormatInt(t.T0, 10))
	}
	if t.Kind == fob.TOTP || t.Period != 0 {
		intElement(w, "TimeInterval", strconv.Itoa(t.Period))
	}
	if t.Drift != 0 {
		intElement(w, "TimeDrift", strconv.Itoa(t.Drift))
	}
	w.WriteString("</Data>")
	if t.Kind == fob.Yubico {
		element(w, "UserId", "CN="+t.PublicID+", UID="+hex.EncodeToString(t.PrivateID))
	}
	if !t.NotBefore.IsZero() || !t.NotAfter.IsZero() {
		// RFC 6030 §5; in UTC, as the RFC asks.
		w.WriteString("<Policy>")
		if !t.NotBefore.IsZero() {
			element(w, "StartDate", t.NotBefore.UTC().Format(time.RFC3339Nano))
		}
		if !t.NotAfter.IsZero() {
			element(w, "ExpiryDate", t.NotAfter.UTC().Format(time.RFC3339Nano))
		}
		w.WriteString("</Policy>")
	}
	w.WriteString("</Key>\n  </KeyPackage>\n")
	return nil
}

func element(w *bufio.Writer, name, text string) {
	if text == "" {
		return
	}
	fmt.Fprintf(w, "<%s>%s</%s>", name, escape(text, false), name)
}

func intElement(w *bufio.Writer, name, n string) {
	fmt.Fprintf(w, "<%s><PlainValue>%s</PlainValue></%s>", name, n, name)
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\t", "&#9;", "\n", "&#10;", "\r", "&#13;")
)

// escape makes s safe as XML text or a double-quoted attribute value.
// Leading and trailing spaces would be lost to the reader's trimming; a
// serial has none after Normalize.
func escape(s string, attr bool) string {
	if attr {
		return attrEscaper.Replace(s)
	}
	return textEscaper.Replace(s)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
