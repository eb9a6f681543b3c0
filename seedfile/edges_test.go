package seedfile

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keydesk/keydesk/fob"
)

// goodFiles are the files of testdata/seedfiles that read without error,
// with what opens them and their format.
var goodFiles = []struct {
	file   string
	keys   Keys
	format Format
}{
	{"rfc6030-figure6.pskc", Keys{PSK: fig6Key}, PSKC},
	{"rfc6030-figure7.pskc", Keys{Password: password("qwerty", nil)}, PSKC},
	{"py-totp-fields.pskc", Keys{}, PSKC},
	{"py-yubikey.pskc", Keys{}, PSKC},
	{"oath-v1.csv", Keys{}, OATHCSV},
	{"oath-v2-privacyidea.csv", Keys{}, OATHCSV},
	{"oath-v2-user.csv", Keys{}, OATHCSV},
	{"yubico-traditional.csv", Keys{}, YubicoCSV},
	{"yubico-format.csv", Keys{}, YubicoCSV},
	{"keys.otpauth", Keys{}, OTPAuth},
}

// A UTF-8 byte order mark, as Windows tools write one, changes nothing in
// any format, detected or named.
func TestByteOrderMark(t *testing.T) {
	for _, c := range goodFiles {
		raw, err := os.ReadFile(dir + c.file)
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := readFrom(c.file, bytes.NewReader(raw), c.format, c.keys)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		bom := append([]byte("\xef\xbb\xbf"), raw...)
		if f, err := Detect(bom); f != c.format || err != nil {
			t.Errorf("%s with a BOM: detected %q, %v", c.file, f, err)
		}
		for _, f := range []Format{"", c.format} {
			got, rd, err := readFrom(c.file, bytes.NewReader(bom), f, c.keys)
			if err != nil {
				t.Errorf("%s with a BOM, format %q: %v", c.file, f, err)
				continue
			}
			if !slices.EqualFunc(got, want, tokEqual) || rd.Format() != c.format {
				t.Errorf("%s with a BOM, format %q: read %d fobs as %q, want %d as %q", c.file, f, len(got), rd.Format(), len(want), c.format)
			}
		}
	}
	// The same, from files as committed.
	for file, orig := range map[string]string{"bom-rfc6030-figure6.pskc": "rfc6030-figure6.pskc", "bom-oath-v2-user.csv": "oath-v2-user.csv"} {
		k := Keys{PSK: fig6Key}
		got, _, err := readAll(t, dir+file, "", k)
		want, _, _ := readAll(t, dir+orig, "", k)
		if err != nil || len(got) == 0 || !slices.EqualFunc(got, want, tokEqual) {
			t.Errorf("%s: %d fobs, %v", file, len(got), err)
		}
	}
	// UTF-16 is named as such, not taken for a broken file.
	for _, head := range []string{"\xff\xfe<\x00K\x00", "\xfe\xff\x00<\x00K"} {
		if _, err := Detect([]byte(head)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "UTF-16") {
			t.Errorf("Detect(%q): %v", head, err)
		}
		if _, _, err := readFrom("u.pskc", strings.NewReader(head), PSKC, Keys{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "UTF-16") {
			t.Errorf("PSKC %q: %v", head, err)
		}
	}
}

// A counter the fob could never get past is refused where it is read, in
// every format, naming the record; the last counter that leaves the whole
// look-ahead and resync windows usable (fob.MaxCounter) is accepted.
func TestCounterBound(t *testing.T) {
	const past = `counter 18446744073709551615 is past 9223372036854775807`
	for _, c := range []struct{ file, text string }{
		{"bad-counter.pskc", `bad-counter.pskc: KeyPackage 2 (line 10, serial "CTR-MINUS-ONE"): invalid fob: ` + past},
		{"bad-counter.csv", `bad-counter.csv: line 2 (serial "CTR-MINUS-ONE"): invalid fob: ` + past},
		{"bad-counter.otpauth", `bad-counter.otpauth: line 2 (serial "CTR-MINUS-ONE"): invalid fob: ` + past},
		{"bad-counter-yubico.csv", `bad-counter-yubico.csv: line 2 (serial "2309902"): invalid fob: ` + past},
	} {
		toks, _, err := readAll(t, dir+c.file, "", Keys{})
		if err == nil || !strings.HasPrefix(err.Error(), c.text) {
			t.Errorf("%s: got %v\nwant %s", c.file, err, c.text)
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, fob.ErrInvalid) {
			t.Errorf("%s: %T is no ParseError wrapping fob.ErrInvalid", c.file, err)
		}
		if len(toks) != 1 || toks[0].Counter != fob.MaxCounter {
			t.Errorf("%s: the fob at the last usable counter did not come out: %+v", c.file, toks)
		}
	}
	const head = `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"><KeyPackage><DeviceInfo><SerialNo>Y</SerialNo></DeviceInfo>` +
		`<Key Id="Y" Algorithm="http://www.yubico.com/#yubikey-aes"><Data><Secret><PlainValue>AAECAwQFBgcICQoLDA0ODw==</PlainValue></Secret>`
	const tail = `</Data><UserId>CN=vvcccbhcklhb, UID=010203040506</UserId></Key></KeyPackage></KeyContainer>`
	for counter, want := range map[string]string{
		"8388606":              "",
		"8388607":              `KeyPackage 1 (line 1, serial "Y"): invalid fob: counter 32767.255: no OTP the fob can type is newer`,
		"-1":                   `Counter: "-1" is not a number from 0 to 18446744073709551615`,
		"18446744073709551616": `Counter: "18446744073709551616" is not a number`,
	} {
		_, _, err := readFrom("y.pskc", strings.NewReader(head+`<Counter><PlainValue>`+counter+`</PlainValue></Counter>`+tail), PSKC, Keys{})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("Yubico counter %s: got %v, want %q", counter, err, want)
		}
	}
}

// python-pskc encrypts an integer as its shortest big-endian bytes, so
// counter 200 is the one byte 0xc8: an unsigned number, not -56.
func TestEncryptedIntegers(t *testing.T) {
	enc := func(p []byte) string {
		c, err := encryptCBC(fig6Key, bytes.Repeat([]byte{7}, 16), p)
		if err != nil {
			t.Fatal(err)
		}
		mac, _ := newMAC(nsDS+"hmac-sha1", fig6Key)
		mac.Write(c)
		return `<EncryptedValue><xenc:EncryptionMethod Algorithm="` + nsXenc + `aes128-cbc"/><xenc:CipherData><xenc:CipherValue>` +
			base64.StdEncoding.EncodeToString(c) + `</xenc:CipherValue></xenc:CipherData></EncryptedValue><ValueMAC>` +
			base64.StdEncoding.EncodeToString(mac.Sum(nil)) + `</ValueMAC>`
	}
	kp := func(serial, alg, data string) string {
		return `<KeyPackage><DeviceInfo><SerialNo>` + serial + `</SerialNo></DeviceInfo><Key Algorithm="` + alg + `"><Data><Secret>` +
			enc(rfcSeed) + `</Secret>` + data + `</Data></Key></KeyPackage>`
	}
	doc := `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:ds="` + nsDS + `" xmlns:xenc="` + nsXenc + `">` +
		`<EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey><MACMethod Algorithm="` + nsDS + `hmac-sha1"/>` +
		kp("E-1", uriHOTP, `<Counter>`+enc([]byte{0xc8})+`</Counter>`) +
		kp("E-2", uriTOTP, `<TimeInterval>`+enc([]byte{0xc8})+`</TimeInterval><TimeDrift>`+enc([]byte{0xfe})+`</TimeDrift>`) +
		kp("E-3", uriHOTP, `<Counter>`+enc(bytes.Repeat([]byte{0xff}, 8))+`</Counter>`) + `</KeyContainer>`
	toks, _, err := readFrom("e.pskc", strings.NewReader(doc), PSKC, Keys{PSK: fig6Key})
	if len(toks) != 2 || toks[0].Counter != 200 || toks[1].Period != 200 || toks[1].Drift != -2 {
		t.Errorf("got %+v", toks)
	}
	if err == nil || !strings.Contains(err.Error(), `KeyPackage 3 (line 1, serial "E-3"): invalid fob: counter 18446744073709551615 is past`) {
		t.Errorf("8 bytes of 0xff: %v", err)
	}
}

// Key algorithms as vendors and tools write them; the error for one keydesk
// does not read says what it does read.
func TestKeyAlgorithmNames(t *testing.T) {
	for alg, want := range map[string]fob.Kind{
		uriHOTP: fob.HOTP, "urn:ietf:params:xml:ns:keyprov:pskc#hotp": fob.HOTP, "hotp": fob.HOTP, "HOTP": fob.HOTP, "Hotp": fob.HOTP,
		uriTOTP: fob.TOTP, uriTOTPHash: fob.TOTP, "URN:IETF:PARAMS:XML:NS:KEYPROV:PSKC:TOTP": fob.TOTP, "totp": fob.TOTP, "TOTP": fob.TOTP,
		uriYubikeyAES: fob.Yubico, "http://www.yubico.com/#YUBIKEY-AES": fob.Yubico,
		"ocra": "", "hotp ": "", "urn:ietf:params:xml:ns:keyprov:pskc:hotpx": "", "oath-hotp": "", "": "",
	} {
		if got, ok := keyAlgorithm([]byte(alg)); got != want || ok != (want != "") {
			t.Errorf("%q: %q, %v; want %q", alg, got, ok, want)
		}
	}
	_, _, err := readAll(t, dir+"bad-algorithm.pskc", "", Keys{PSK: fig6Key})
	if err == nil || !strings.Contains(err.Error(), `unsupported algorithm "urn:ietf:params:xml:ns:keyprov:pskc:ocra": keydesk reads HOTP and TOTP keys`) {
		t.Errorf("bad-algorithm.pskc: %v", err)
	}
}

// A file read a few bytes at a time, as a pipe or a slow disk hands it
// over, gives the same fobs: the scanner waits for the rest of a token
// wherever a read ends (an attribute name cut at a read's end was once
// taken for a malformed one).
func TestPSKCShortReads(t *testing.T) {
	var file bytes.Buffer
	if err := WritePSKC(&file, Synthetic(300), ExportOptions{Password: []byte("pw"), Iterations: 10}); err != nil {
		t.Fatal(err)
	}
	k := Keys{Password: password("pw", nil)}
	want, _, err := readFrom("s.pskc", bytes.NewReader(file.Bytes()), PSKC, k)
	if err != nil || len(want) != 300 {
		t.Fatalf("%d fobs, %v", len(want), err)
	}
	for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(file.Bytes())), iotest.HalfReader(bytes.NewReader(file.Bytes()))} {
		got, _, err := readFrom("s.pskc", r, PSKC, k)
		if err != nil || !slices.EqualFunc(got, want, tokEqual) {
			t.Errorf("%T: %d fobs, %v", r, len(got), err)
		}
	}
}
