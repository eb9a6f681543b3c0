package seedfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keydesk/keydesk/fob"
)

// Algorithm URIs of the keys keydesk imports (RFC 6030 §10.6 registers
// hotp; totp is used both with ":" as registered and with "#" as some
// vendors write it, and so hotp may be; yubikey-aes is Yubico's own).
const (
	uriHOTP       = "urn:ietf:params:xml:ns:keyprov:pskc:hotp"
	uriHOTPHash   = "urn:ietf:params:xml:ns:keyprov:pskc#hotp"
	uriTOTP       = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
	uriTOTPHash   = "urn:ietf:params:xml:ns:keyprov:pskc#totp"
	uriYubikeyAES = "http://www.yubico.com/#yubikey-aes"
)

// Limits on one PSKC value.
const (
	maxField  = 256  // bytes of a name, serial, URI or number
	maxCipher = 4096 // bytes of base64 in a CipherValue, PlainValue or ValueMAC
	maxText   = maxCipher
)

// dataValue is one of Secret, Counter, Time, TimeInterval, TimeDrift.
type dataValue struct {
	present, plain, encrypted bool
	text                      []byte // PlainValue
	alg                       []byte // EncryptionMethod Algorithm
	cipher                    []byte // CipherValue, base64
	mac                       []byte // ValueMAC, base64
}

// keyPackage holds one KeyPackage as read, before any decoding.
type keyPackage struct {
	line                                 int
	manufacturer, serial, model, devUser string
	keys                                 int
	keyID, alg                           []byte
	issuer, friendly, userID, suite      string
	dates                                [4]string // DeviceInfo StartDate, ExpiryDate; Policy StartDate, ExpiryDate
	respLen, respEnc                     []byte
	hasResp                              bool
	values                               [5]dataValue
}

func (k *keyPackage) reset(line int) {
	v := k.values
	for i := range v {
		v[i] = dataValue{text: v[i].text[:0], alg: v[i].alg[:0], cipher: v[i].cipher[:0], mac: v[i].mac[:0]}
	}
	*k = keyPackage{line: line, values: v, keyID: k.keyID[:0], alg: k.alg[:0], respLen: k.respLen[:0], respEnc: k.respEnc[:0]}
}

type pskcReader struct {
	name    string
	sc      *xmlScanner
	keys    Keys
	ids     []elemID
	text    []byte
	inKP    bool
	record  int
	kp      keyPackage
	hdr     header
	serials *serialSet
	vendor  string
	err     error
}

func newPSKCReader(name string, r *bufio.Reader, k Keys) (*pskcReader, error) {
	p := &pskcReader{name: name, sc: newXMLScanner(r), keys: k, serials: newSerialSet()}
	// Read the header (EncryptionKey, MACMethod) up to the first KeyPackage,
	// so that a file keydesk cannot open fails before any fob comes out.
	for !p.inKP {
		if err := p.step(); err != nil {
			return nil, p.wrap(err)
		}
		if p.sc.kind == tokEOF {
			break
		}
	}
	return p, nil
}

func (p *pskcReader) Skipped() []Skip { return nil }
func (p *pskcReader) Vendor() string  { return p.vendor }
func (p *pskcReader) Format() Format  { return PSKC }

// wrap turns err into a ParseError at the current position.
func (p *pskcReader) wrap(err error) error {
	e := &ParseError{File: p.name, Err: err}
	var pe *posError
	if errors.As(err, &pe) {
		e.Line, e.Err = pe.line, pe.err
	}
	if p.inKP {
		e.Record = p.record
		if e.Line == 0 {
			e.Line = p.kp.line
		}
		e.Serial = p.kp.serial
		if e.Serial == "" && len(p.kp.keyID) < maxField {
			e.Serial = string(p.kp.keyID)
		}
	}
	return e
}

func (p *pskcReader) fail(err error) (fob.Token, error) {
	p.err = p.wrap(err)
	return fob.Token{}, p.err
}

func (p *pskcReader) Next() (fob.Token, error) {
	if p.err != nil {
		return fob.Token{}, p.err
	}
	for !p.inKP {
		if err := p.step(); err != nil {
			return p.fail(err)
		}
		if p.sc.kind == tokEOF {
			return fob.Token{}, io.EOF
		}
	}
	if p.record > maxTokens {
		return p.fail(fmt.Errorf("more than %d KeyPackages", maxTokens))
	}
	if err := p.readKeyPackage(); err != nil {
		return p.fail(err)
	}
	t, err := p.build()
	if err != nil {
		return p.fail(err)
	}
	if prev := p.serials.add(t.Serial, p.record); prev != 0 {
		return p.fail(fmt.Errorf("%w: KeyPackage %d has the same serial", ErrDuplicate, prev))
	}
	p.inKP = false
	return t, nil
}

// readKeyPackage steps to the end of the KeyPackage just opened.
func (p *pskcReader) readKeyPackage() error {
	for depth := len(p.ids); ; {
		if err := p.step(); err != nil {
			return err
		}
		if p.sc.kind == tokEnd && len(p.ids) == depth-1 {
			return nil
		}
	}
}

// step reads one token and files what it carries.
func (p *pskcReader) step() error {
	if err := p.sc.next(); err != nil {
		return err
	}
	switch p.sc.kind {
	case tokStart:
		id := elemOf(p.sc.space, p.sc.local)
		if len(p.ids) == 0 && id != eKeyContainer {
			return fmt.Errorf("root element is <%s>, not a PSKC KeyContainer (namespace %s)", truncate(string(p.sc.local), 40), nsPSKC)
		}
		p.ids = append(p.ids, id)
		p.text = p.text[:0]
		return p.onStart(id)
	case tokText:
		if len(p.text)+len(p.sc.text) > maxText {
			return p.errorf("text of <%s> longer than %d bytes", p.sc.stack[len(p.sc.stack)-1].qname, maxText)
		}
		p.text = append(p.text, p.sc.text...)
	case tokEnd:
		err := p.onEnd(p.ids[len(p.ids)-1])
		p.ids = p.ids[:len(p.ids)-1]
		p.text = p.text[:0]
		return err
	}
	return nil
}

func (p *pskcReader) errorf(format string, args ...any) error {
	return &posError{line: p.sc.tokLine, err: fmt.Errorf(format, args...)}
}

// at reports whether the open elements below the KeyContainer are ids.
func (p *pskcReader) at(ids ...elemID) bool {
	if len(p.ids) != len(ids)+1 {
		return false
	}
	for i, id := range ids {
		if p.ids[i+1] != id {
			return false
		}
	}
	return true
}

// kpAt reports whether the open elements below the KeyPackage are ids.
func (p *pskcReader) kpAt(ids ...elemID) bool {
	if len(p.ids) != len(ids)+2 || p.ids[1] != eKeyPackage {
		return false
	}
	for i, id := range ids {
		if p.ids[i+2] != id {
			return false
		}
	}
	return true
}

// value returns which Data value the open elements are in, if any.
func (p *pskcReader) value() (*dataValue, bool) {
	if len(p.ids) < 6 || p.ids[1] != eKeyPackage || p.ids[2] != eKey || p.ids[3] != eData {
		return nil, false
	}
	if id := p.ids[4]; id >= eSecret && id <= eTimeDrift {
		return &p.kp.values[id-eSecret], true
	}
	return nil, false
}

func (p *pskcReader) onStart(id elemID) error {
	sc := p.sc
	switch id {
	case eKeyContainer:
		if len(p.ids) != 1 {
			return p.errorf("nested KeyContainer")
		}
		if v, ok := sc.attr("Version"); ok && string(v) != "1.0" {
			return p.errorf("%w PSKC version %q (want 1.0)", ErrUnsupported, truncate(string(v), 20))
		}
	case eKeyPackage:
		if len(p.ids) == 2 {
			p.record++
			p.kp.reset(sc.tokLine)
			p.inKP = true
		}
	case eEncryptionKey, eMACMethod:
		if len(p.ids) == 2 && p.record > 0 {
			return p.errorf("<%s> after the first KeyPackage", sc.local)
		}
		if id == eMACMethod && len(p.ids) == 2 {
			v, _ := sc.attr("Algorithm")
			p.hdr.macURI = string(v)
			if _, err := hashFor(p.hdr.macURI); err != nil {
				return p.errorf("%v", err)
			}
		}
		if id == eEncryptionKey && len(p.ids) == 2 {
			p.hdr.encKey = true
		}
	case eX509Data:
		if p.at(eEncryptionKey, eX509Data) {
			return p.errorf("%w: keys encrypted to a certificate (RFC 6030 §6.3); ask the vendor for a pre-shared key or password", ErrUnsupported)
		}
	case eKeyDerivationMethod:
		if p.at(eEncryptionKey, eDerivedKey, eKeyDerivationMethod) {
			v, _ := sc.attr("Algorithm")
			if string(v) != uriPBKDF2 && string(v) != nsXenc11+"pbkdf2" {
				return p.errorf("%w key derivation %q (want PBKDF2)", ErrUnsupported, truncate(string(v), 80))
			}
		}
	case ePRF:
		if p.at(eEncryptionKey, eDerivedKey, eKeyDerivationMethod, ePBKDF2Params, ePRF) {
			v, _ := sc.attr("Algorithm")
			p.hdr.kdf.prf = string(v)
			if _, err := hashFor(p.hdr.kdf.prf); p.hdr.kdf.prf != "" && err != nil {
				return p.errorf("PBKDF2 PRF: %v", err)
			}
		}
	case eEncryptionMethod:
		v, _ := sc.attr("Algorithm")
		if len(v) > maxField {
			return p.errorf("EncryptionMethod Algorithm longer than %d bytes", maxField)
		}
		if p.at(eMACMethod, eMACKey, eEncryptionMethod) {
			p.hdr.macKeyAlg = string(v)
		} else if dv, ok := p.value(); ok && len(p.ids) == 7 && p.ids[5] == eEncryptedValue {
			dv.alg = append(dv.alg[:0], v...)
		}
	case eKey:
		if p.kpAt(eKey) {
			if p.kp.keys++; p.kp.keys > 1 {
				return p.errorf("more than one Key in a KeyPackage")
			}
			id, _ := sc.attr("Id")
			alg, _ := sc.attr("Algorithm")
			if len(id) > maxField || len(alg) > maxField {
				return p.errorf("Key Id or Algorithm longer than %d bytes", maxField)
			}
			p.kp.keyID = append(p.kp.keyID[:0], bytes.TrimSpace(id)...)
			p.kp.alg = append(p.kp.alg[:0], bytes.TrimSpace(alg)...)
		}
	case eResponseFormat:
		if p.kpAt(eKey, eAlgorithmParameters, eResponseFormat) {
			l, _ := sc.attr("Length")
			e, _ := sc.attr("Encoding")
			if len(l) > maxField || len(e) > maxField {
				return p.errorf("ResponseFormat attribute longer than %d bytes", maxField)
			}
			p.kp.hasResp = true
			p.kp.respLen = append(p.kp.respLen[:0], l...)
			p.kp.respEnc = append(p.kp.respEnc[:0], e...)
		}
	case eSecret, eCounter, eTime, eTimeInterval, eTimeDrift:
		if p.kpAt(eKey, eData, id) {
			dv := &p.kp.values[id-eSecret]
			if dv.present {
				return p.errorf("<%s> twice in one Key", sc.local)
			}
			dv.present = true
		}
	case ePlainValue, eEncryptedValue:
		if dv, ok := p.value(); ok && len(p.ids) == 6 {
			if dv.plain || dv.encrypted {
				return p.errorf("<%s> holds more than one PlainValue or EncryptedValue", p.sc.stack[len(p.sc.stack)-2].qname)
			}
			dv.plain, dv.encrypted = id == ePlainValue, id == eEncryptedValue
		}
	}
	return nil
}

func (p *pskcReader) onEnd(id elemID) error {
	switch id {
	case eKeyPackage:
		if len(p.ids) == 2 {
			if p.kp.keys == 0 {
				return p.errorf("KeyPackage without a Key")
			}
		}
	case eManufacturer, eSerialNo, eModel, eUserId, eIssuer, eFriendlyName, eSuite, eStartDate, eExpiryDate:
		return p.field(id)
	case ePlainValue, eCipherValue, eValueMAC:
		return p.valueText(id)
	case eSpecified, eIterationCount, eKeyLength:
		return p.kdfParam(id)
	case eDerivedKey:
		if p.at(eEncryptionKey, eDerivedKey) {
			return p.hdr.checkKDF(p)
		}
	}
	return nil
}

// field files the text of a string-valued element.
func (p *pskcReader) field(id elemID) error {
	var dst *string
	switch {
	case p.kpAt(eDeviceInfo, id) && id == eManufacturer:
		dst = &p.kp.manufacturer
	case p.kpAt(eDeviceInfo, id) && id == eSerialNo:
		dst = &p.kp.serial
	case p.kpAt(eDeviceInfo, id) && id == eModel:
		dst = &p.kp.model
	case p.kpAt(eDeviceInfo, id) && id == eUserId:
		dst = &p.kp.devUser
	case p.kpAt(eKey, id) && id == eIssuer:
		dst = &p.kp.issuer
	case p.kpAt(eKey, id) && id == eFriendlyName:
		dst = &p.kp.friendly
	case p.kpAt(eKey, id) && id == eUserId:
		dst = &p.kp.userID
	case p.kpAt(eKey, eAlgorithmParameters, id) && id == eSuite:
		dst = &p.kp.suite
	case p.kpAt(eDeviceInfo, id) && (id == eStartDate || id == eExpiryDate):
		dst = &p.kp.dates[id-eStartDate]
	case p.kpAt(eKey, ePolicy, id) && (id == eStartDate || id == eExpiryDate):
		dst = &p.kp.dates[2+id-eStartDate]
	default:
		return nil
	}
	t := bytes.TrimSpace(p.text)
	if len(t) > maxField {
		return p.errorf("<%s> longer than %d bytes", p.sc.local, maxField)
	}
	if !utf8.Valid(t) {
		return p.errorf("<%s> is not valid UTF-8", p.sc.local)
	}
	// Every KeyPackage of a batch names the same manufacturer: share it.
	if id == eManufacturer && string(t) == p.vendor {
		*dst = p.vendor
		return nil
	}
	*dst = string(t)
	if id == eManufacturer && p.vendor == "" {
		p.vendor = *dst
	}
	return nil
}

func (p *pskcReader) valueText(id elemID) error {
	t := bytes.TrimSpace(p.text)
	if p.at(eMACMethod, eMACKey, eCipherData, eCipherValue) {
		p.hdr.macKeyCipher = append(p.hdr.macKeyCipher[:0], t...)
		return nil
	}
	dv, ok := p.value()
	if !ok {
		return nil
	}
	switch {
	case id == ePlainValue && len(p.ids) == 6:
		dv.text = append(dv.text[:0], t...)
	case id == eCipherValue && len(p.ids) == 8 && p.ids[5] == eEncryptedValue && p.ids[6] == eCipherData:
		dv.cipher = append(dv.cipher[:0], t...)
	case id == eValueMAC && len(p.ids) == 6:
		dv.mac = append(dv.mac[:0], t...)
	}
	return nil
}

func (p *pskcReader) kdfParam(id elemID) error {
	base := []elemID{eEncryptionKey, eDerivedKey, eKeyDerivationMethod, ePBKDF2Params}
	var ok bool
	if id == eSpecified {
		ok = p.at(append(base, eSalt, eSpecified)...)
	} else {
		ok = p.at(append(base, id)...)
	}
	if !ok {
		return nil
	}
	t := string(bytes.TrimSpace(p.text))
	k := &p.hdr.kdf
	var err error
	switch id {
	case eSpecified:
		if k.salt, err = decodeBase64([]byte(t)); err != nil || len(t) > maxField {
			return p.errorf("bad base64 in PBKDF2 salt")
		}
	case eIterationCount:
		if k.iterations, err = strconv.Atoi(t); err != nil || k.iterations < 1 || k.iterations > maxIterations {
			return p.errorf("PBKDF2 IterationCount %q: want 1 to %d", truncate(t, 20), maxIterations)
		}
	case eKeyLength:
		if k.keyLen, err = strconv.Atoi(t); err != nil || k.keyLen != 16 && k.keyLen != 24 && k.keyLen != 32 {
			return p.errorf("PBKDF2 KeyLength %q: want 16, 24 or 32", truncate(t, 20))
		}
	}
	return nil
}

// parseYubicoUserID reads the private and public ids Yubico's tools put in
// a yubikey-aes Key's UserId: "CN=<public id, modhex>, UID=<private id, hex>".
func parseYubicoUserID(s string) (pub string, priv []byte, ok bool) {
	var uid string
	for _, part := range strings.Split(s, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "CN":
			pub = strings.ToLower(strings.TrimSpace(v))
		case "UID":
			uid = strings.TrimSpace(v)
		}
	}
	if uid == "" {
		return "", nil, false
	}
	priv, err := decodeHex("private id", uid)
	return pub, priv, err == nil
}
