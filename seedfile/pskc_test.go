package seedfile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
)

const dir = "../testdata/seedfiles/"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads every token of a file, stopping at the first error.
func readAll(t testing.TB, name string, f Format, k Keys) ([]fob.Token, Reader, error) {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	return readFrom(name, fh, f, k)
}

func readFrom(name string, r io.Reader, f Format, k Keys) ([]fob.Token, Reader, error) {
	rd, err := NewReader(filepath.Base(name), r, f, k)
	if err != nil {
		return nil, nil, err
	}
	var out []fob.Token
	for {
		tok, err := rd.Next()
		if err == io.EOF {
			return out, rd, nil
		}
		if err != nil {
			if !isZero(tok) {
				return out, rd, errors.New("partial token returned with error: " + err.Error())
			}
			return out, rd, err
		}
		out = append(out, tok)
	}
}

func isZero(t fob.Token) bool {
	return tokEqual(t, fob.Token{})
}

func tokEqual(a, b fob.Token) bool {
	if !bytes.Equal(a.Secret, b.Secret) || !bytes.Equal(a.PrivateID, b.PrivateID) {
		return false
	}
	a.Secret, b.Secret, a.PrivateID, b.PrivateID = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

var (
	fig6Key = []byte{0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12}
	rfcSeed = []byte("12345678901234567890")
)

func password(pw string, calls *int) func() ([]byte, error) {
	return func() ([]byte, error) {
		if calls != nil {
			*calls++
		}
		return []byte(pw), nil
	}
}

// RFC 6030 figures 6 and 7, with the keys and secret testdata/vectors/rfc6030.txt gives.
func TestRFC6030Figures(t *testing.T) {
	want := fob.Token{Serial: "987654321", Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: 8, Secret: rfcSeed}
	calls := 0
	for _, c := range []struct {
		file                     string
		keys                     Keys
		manufacturer, keyID, iss string
	}{
		{"rfc6030-figure6.pskc", Keys{PSK: fig6Key}, "Manufacturer", "12345678", "Issuer"},
		{"rfc6030-figure7.pskc", Keys{Password: password("qwerty", &calls)}, "TokenVendorAcme", "123456", "Example-Issuer"},
	} {
		toks, rd, err := readAll(t, dir+c.file, "", c.keys)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		w := want
		w.Manufacturer, w.KeyID, w.Issuer = c.manufacturer, c.keyID, c.iss
		if len(toks) != 1 || !tokEqual(toks[0], w) {
			t.Errorf("%s: got %+v\nwant %+v", c.file, toks, w)
		}
		if rd.Vendor() != c.manufacturer {
			t.Errorf("%s: vendor %q", c.file, rd.Vendor())
		}
		if rd.Format() != PSKC {
			t.Errorf("%s: detected as %q", c.file, rd.Format())
		}
	}
	if calls != 1 {
		t.Errorf("password asked %d times, want once", calls)
	}
}

func TestPBKDF2DerivedKey(t *testing.T) {
	// rfc6030.txt: derived key 651e63cd57008476af1ff6422cd02e41.
	k := pbkdf2Params{salt: mustHex(t, "123eff3c4a72129c"), iterations: 1000}
	got, err := k.derive([]byte("qwerty"), 16)
	if err != nil || hex.EncodeToString(got) != "651e63cd57008476af1ff6422cd02e41" {
		t.Fatalf("derived %x, %v", got, err)
	}
}

func TestKeys(t *testing.T) {
	calls := 0
	for _, c := range []struct {
		file string
		keys Keys
		want error
	}{
		{"rfc6030-figure6.pskc", Keys{}, ErrNeedKey},
		{"rfc6030-figure6.pskc", Keys{Password: password("x", &calls)}, ErrNeedKey},
		{"rfc6030-figure6.pskc", Keys{PSK: bytes.Repeat([]byte{1}, 16)}, ErrWrongKey},
		{"rfc6030-figure6.pskc", Keys{PSK: bytes.Repeat([]byte{1}, 32)}, ErrWrongKey},
		{"rfc6030-figure7.pskc", Keys{}, ErrNeedKey},
		{"rfc6030-figure7.pskc", Keys{PSK: fig6Key}, ErrNeedKey},
		{"rfc6030-figure7.pskc", Keys{Password: password("qwertz", nil)}, ErrWrongKey},
		{"rfc6030-figure7.pskc", Keys{Password: func() ([]byte, error) { return nil, errors.New("no terminal") }}, nil},
	} {
		toks, _, err := readAll(t, dir+c.file, "", c.keys)
		var pe *ParseError
		if len(toks) != 0 || err == nil || !errors.As(err, &pe) {
			t.Errorf("%s %+v: got %d tokens, %v", c.file, c.keys, len(toks), err)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.file, err, c.want)
		}
		if pe.Record != 1 || pe.Serial != "987654321" {
			t.Errorf("%s: error not placed at KeyPackage 1, serial 987654321: %+v", c.file, pe)
		}
	}
	if calls != 0 {
		t.Errorf("password asked %d times for a PSK file", calls)
	}
	// A plain file never asks for the password.
	if _, _, err := readAll(t, dir+"py-totp-fields.pskc", "", Keys{Password: password("x", &calls)}); err != nil || calls != 0 {
		t.Errorf("plain file: %v, password asked %d times", err, calls)
	}
}

// The files make.py wrote with hashlib, hmac, openssl and cryptography.
func TestIndependentFiles(t *testing.T) {
	raw, err := os.ReadFile(dir + "expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var files map[string]struct {
		Keys  struct{ PSK, Password, Derived string }
		Error *string
		Fobs  []struct {
			Serial, Kind, Algorithm, Secret, User, Issuer, Label, Manufacturer, Model string
			KeyID                                                                     string `json:"key_id"`
			PublicID                                                                  string `json:"public_id"`
			PrivateID                                                                 string `json:"private_id"`
			Digits, Period, Drift                                                     int
			Counter                                                                   uint64
			T0                                                                        int64
		}
	}
	if err := json.Unmarshal(raw, &files); err != nil {
		t.Fatal(err)
	}
	if len(files) < 14 {
		t.Fatalf("only %d files in expected.json", len(files))
	}
	for name, f := range files {
		k := Keys{PSK: mustHex(t, f.Keys.PSK)}
		if f.Keys.Password != "" {
			k.Password = password(f.Keys.Password, nil)
		}
		toks, _, err := readAll(t, dir+name, "", k)
		if f.Error != nil {
			if !errors.Is(err, ErrBadMAC) || len(toks) > 1 {
				t.Errorf("%s: got %d tokens, %v; want ErrBadMAC", name, len(toks), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(toks) != len(f.Fobs) {
			t.Errorf("%s: %d tokens, want %d", name, len(toks), len(f.Fobs))
			continue
		}
		for i, w := range f.Fobs {
			want := fob.Token{Serial: w.Serial, Kind: fob.Kind(w.Kind), Algorithm: fob.Algorithm(w.Algorithm), Digits: w.Digits,
				Period: w.Period, T0: w.T0, Counter: w.Counter, Drift: w.Drift, Secret: mustHex(t, w.Secret),
				PublicID: w.PublicID, PrivateID: mustHex(t, w.PrivateID), Manufacturer: cmpOr(w.Manufacturer, "Py Vendor"),
				Model: w.Model, KeyID: w.KeyID, User: w.User, Issuer: w.Issuer, Label: w.Label}
			if !tokEqual(toks[i], want) {
				t.Errorf("%s #%d:\n got %+v\nwant %+v", name, i+1, toks[i], want)
			}
		}
	}
}

func TestAlteredFiles(t *testing.T) {
	for _, c := range []struct {
		file   string
		keys   Keys
		want   error
		record int
		text   string
	}{
		// The second value fails after the first verified: altered.
		{"py-altered-second.pskc", Keys{}, ErrBadMAC, 2, "KeyPackage 1 verified"},
		// The first fails, the second verifies: altered, found by reading on.
		{"py-altered-first.pskc", Keys{}, ErrBadMAC, 1, "KeyPackage 2 verifies"},
		// One value only: cannot tell, reported as the likelier wrong key.
		{"bad-mac-single.pskc", Keys{PSK: fig6Key}, ErrWrongKey, 1, "cannot be told apart"},
	} {
		if c.keys.PSK == nil {
			c.keys.PSK = pskOf(t, c.file)
		}
		_, _, err := readAll(t, dir+c.file, "", c.keys)
		var pe *ParseError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) || pe.Record != c.record || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %v at KeyPackage %d saying %q", c.file, err, c.want, c.record, c.text)
		}
	}
}

func pskOf(t *testing.T, file string) []byte {
	raw, _ := os.ReadFile(dir + "expected.json")
	var m map[string]struct{ Keys struct{ PSK string } }
	json.Unmarshal(raw, &m)
	return mustHex(t, m[file].Keys.PSK)
}

func TestBadPSKC(t *testing.T) {
	for _, c := range []struct {
		file string
		keys Keys
		want error
		text string
	}{
		{"bad-truncated.pskc", Keys{PSK: pskOf(t, "py-psk-aes128-cbc-sha1.pskc")}, nil, "truncated"},
		{"bad-digits.pskc", Keys{PSK: fig6Key}, nil, `KeyPackage 1 (line 14, serial "987654321"): wrong digit count 5`},
		{"bad-algorithm.pskc", Keys{PSK: fig6Key}, ErrUnsupported, `unsupported algorithm "urn:ietf:params:xml:ns:keyprov:pskc:ocra"`},
		{"bad-cipher.pskc", Keys{PSK: fig6Key}, ErrUnsupported, `unsupported cipher "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"`},
		{"bad-doctype.pskc", Keys{}, nil, "bad-doctype.pskc: line 2: DOCTYPE not allowed"},
	} {
		toks, _, err := readAll(t, dir+c.file, "", c.keys)
		if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %d tokens, %v; want %q", c.file, len(toks), err, c.text)
		}
	}
}

func TestPSKCErrors(t *testing.T) {
	const head = `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">`
	kp := func(serial, secret string) string {
		return `<KeyPackage><DeviceInfo><SerialNo>` + serial + `</SerialNo></DeviceInfo><Key Id="k" Algorithm="` + uriHOTP +
			`"><Data><Secret><PlainValue>` + secret + `</PlainValue></Secret></Data></Key></KeyPackage>`
	}
	good := "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="
	for _, c := range []struct{ doc, text string }{
		{head + kp("A", good) + kp("B", good) + kp("A", good) + `</KeyContainer>`, `KeyPackage 3 (line 1, serial "A"): duplicate serial: KeyPackage 1 has the same serial`},
		{head + kp("A", "!!") + `</KeyContainer>`, `KeyPackage 1 (line 1, serial "A"): bad base64 in Secret PlainValue`},
		{head + kp("A", "MTIz") + `</KeyContainer>`, `seed too short: 3 bytes`},
		{head + strings.Replace(kp("", good), `Id="k"`, `Id=""`, 1) + `</KeyContainer>`, `KeyPackage 1 (line 1): invalid fob: missing serial`},
		{head + `<KeyPackage><Key Id="x" Algorithm="` + uriHOTP + `"/></KeyPackage></KeyContainer>`, `missing secret`},
		{head + `<KeyPackage><DeviceInfo/></KeyPackage></KeyContainer>`, `KeyPackage without a Key`},
		{head + kp("A", good), `file ends inside <KeyContainer> (truncated?)`},
		{head + kp("A", good) + `</KeyContainer><x/>`, `a second root element`},
		{`<KeyContainer xmlns="urn:other">`, `not a PSKC KeyContainer`},
		{head + `<p:x/>`, `undeclared namespace prefix "p"`},
		{head + `<a></b>`, `end tag </b> does not match <a>`},
		{head + `&bogus;`, `unknown entity &bogus;`},
		{head + `<a b="1" b="2"/>`, `attribute b repeated`},
		{head + strings.Repeat("<a>", 40), `nested deeper than 32`},
		{head + `<a a1="1"/>` + strings.Repeat("x", 70<<10), `longer than 64 KiB`},
		{`<?xml version="1.0" encoding="ISO-8859-1"?>` + head, `unsupported: character encoding "iso-8859-1"`},
		{head + `<MACMethod Algorithm="urn:x"/>`, `unsupported MAC algorithm "urn:x"`},
	} {
		toks, _, err := readFrom("t.pskc", strings.NewReader(c.doc), PSKC, Keys{})
		if err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%.60s…: got %d tokens, %v; want %q", c.doc[len(head)-1:], len(toks), err, c.text)
		}
	}
	attrs := head + "<a"
	for i := 0; i < 40; i++ {
		attrs += " a" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `="1"`
	}
	if _, _, err := readFrom("t.pskc", strings.NewReader(attrs+"/>"), PSKC, Keys{}); err == nil || !strings.Contains(err.Error(), "more than 32 attributes") {
		t.Errorf("attributes: %v", err)
	}
}

// Entities, CDATA, comments and namespaces on every element read as a
// conforming parser reads them.
func TestPSKCXMLForms(t *testing.T) {
	doc := `<?xml version="1.0" encoding="utf-8"?><!-- vendor export -->
<p:KeyContainer xmlns:p="urn:ietf:params:xml:ns:keyprov:pskc" Version='1.0'>
 <p:KeyPackage><?pi x?><p:DeviceInfo><p:Manufacturer>A&amp;B &#x263A;</p:Manufacturer><p:SerialNo><![CDATA[S<1>]]></p:SerialNo></p:DeviceInfo>
  <q:Key xmlns:q="urn:ietf:params:xml:ns:keyprov:pskc" Id="a&quot;b" Algorithm = "urn:ietf:params:xml:ns:keyprov:pskc:totp">
   <q:Data><q:Secret><q:PlainValue>
     MTIzNDU2Nzg5MDEy
     MzQ1Njc4OTA=
   </q:PlainValue></q:Secret><ext:Foo xmlns:ext="urn:x"><ext:Bar/></ext:Foo></q:Data></q:Key></p:KeyPackage>
</p:KeyContainer>
`
	toks, rd, err := readFrom("t.pskc", strings.NewReader(doc), "", Keys{})
	want := fob.Token{Serial: "S<1>", Kind: fob.TOTP, Algorithm: fob.SHA1, Digits: 6, Period: 30, Secret: rfcSeed, Manufacturer: "A&B ☺", KeyID: `a"b`}
	if err != nil || len(toks) != 1 || !tokEqual(toks[0], want) || rd.Vendor() != "A&B ☺" {
		t.Fatalf("got %+v, %v", toks, err)
	}
}

// RFC 6030 §5: a key's Policy StartDate and ExpiryDate; §4.3.1: the
// device's own, which narrow the key's.
func TestPSKCDates(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	toks, _, err := readAll(t, dir+"pskc-dates.pskc", "", Keys{})
	if err != nil || len(toks) != 3 {
		t.Fatalf("got %d fobs, %v", len(toks), err)
	}
	for i, w := range [][2]time.Time{
		{utc(2006, 5, 1, 0, 0, 0, 0), utc(2012, 5, 31, 0, 0, 0, 0)},
		{{}, utc(2030, 6, 30, 10, 0, 0, 250e6)},
		{utc(2025, 3, 1, 0, 0, 0, 0), utc(2027, 12, 31, 23, 59, 59, 0)},
	} {
		if toks[i].NotBefore != w[0] || toks[i].NotAfter != w[1] {
			t.Errorf("%s: from %v to %v, want %v to %v", toks[i].Serial, toks[i].NotBefore, toks[i].NotAfter, w[0], w[1])
		}
	}
	for _, c := range []struct{ name, doc, text string }{
		{"bad-dates.pskc", "", `bad-dates.pskc: KeyPackage 2 (line 10, serial "BD-2"): Policy ExpiryDate "2030-02-30T00:00:00Z": not a date and time`},
		{"t.pskc", `<Policy><StartDate>2025-01-01T00:00:00Z</StartDate><ExpiryDate>2024-12-31T23:59:59Z</ExpiryDate></Policy>`,
			`t.pskc: KeyPackage 1 (line 1, serial "S"): invalid fob: key expires (2024-12-31T23:59:59Z) before it starts (2025-01-01T00:00:00Z)`},
		{"t.pskc", `<Policy><StartDate>tomorrow</StartDate></Policy>`, `KeyPackage 1 (line 1, serial "S"): Policy StartDate "tomorrow": not a date`},
		{"t.pskc", `<Policy><StartDate>2025-01-01</StartDate></Policy>`, `Policy StartDate "2025-01-01": not a date`},
		{"t.pskc", `<Policy><ExpiryDate>2025-01-01T24:00:00Z</ExpiryDate></Policy>`, `Policy ExpiryDate "2025-01-01T24:00:00Z": not a date`},
		{"t.pskc", `<Policy><ExpiryDate>-2025-01-01T00:00:00Z</ExpiryDate></Policy>`, `not a date`},
	} {
		var err error
		var toks []fob.Token
		if c.doc == "" {
			toks, _, err = readAll(t, dir+c.name, "", Keys{})
		} else {
			doc := `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"><KeyPackage><DeviceInfo><SerialNo>S</SerialNo></DeviceInfo>` +
				`<Key Algorithm="` + uriHOTP + `"><Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>` + c.doc + `</Key></KeyPackage></KeyContainer>`
			toks, _, err = readFrom(c.name, strings.NewReader(doc), PSKC, Keys{})
		}
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%.50s: got %v, want %q", c.name+c.doc, err, c.text)
		}
		if c.name == "bad-dates.pskc" && len(toks) != 1 {
			t.Errorf("%s: %d fobs before the error, want 1", c.name, len(toks))
		}
	}
}
