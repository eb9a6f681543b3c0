package seedfile

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/fob"
)

var (
	s20 = rfcSeed
	s32 = []byte("12345678901234567890123456789012")
	s64 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestTextFormats(t *testing.T) {
	hotp := func(serial string, digits int, counter uint64, secret []byte, alg fob.Algorithm) fob.Token {
		return fob.Token{Serial: serial, Kind: fob.HOTP, Algorithm: alg, Digits: digits, Counter: counter, Secret: secret}
	}
	totp := func(serial string, digits, period int, secret []byte, alg fob.Algorithm) fob.Token {
		return fob.Token{Serial: serial, Kind: fob.TOTP, Algorithm: alg, Digits: digits, Period: period, Secret: secret}
	}
	user := func(t fob.Token, u string) fob.Token { t.User = u; return t }
	yk := func(serial, pub, priv, key string) fob.Token {
		return fob.Token{Serial: serial, Kind: fob.Yubico, PublicID: pub, PrivateID: mustHex(t, priv), Secret: mustHex(t, key), Manufacturer: "Yubico"}
	}
	ykHOTP := mustHex(t, "8f3c2a1b4d5e6f708192a3b4c5d6e7f801234567")
	for _, c := range []struct {
		file   string
		format Format
		want   []fob.Token
		skips  []string
	}{
		{"oath-v1.csv", OATHCSV, []fob.Token{
			hotp("OATH-0001", 6, 0, s20, fob.SHA1), totp("OATH-0002", 8, 30, s32, fob.SHA256),
			totp("OATH-0003", 8, 60, s64, fob.SHA512), hotp("OATH-0004", 8, 5, s20, fob.SHA256), hotp("OATH-0005", 6, 0, s20, fob.SHA1)}, nil},
		{"oath-v2-privacyidea.csv", OATHCSV, []fob.Token{
			user(hotp("PI-0001", 6, 12, s20, fob.SHA1), "alice"), user(totp("PI-0002", 6, 30, s32, fob.SHA256), "bob"), hotp("PI-0003", 8, 0, s20, fob.SHA1)}, nil},
		{"oath-v2-user.csv", OATHCSV, []fob.Token{
			user(hotp("U-0001", 6, 3, s20, fob.SHA1), "carol"), user(totp("U-0002", 7, 45, s20, fob.SHA512), "dave,jr")}, nil},
		{"yubico-traditional.csv", YubicoCSV, []fob.Token{
			yk("vvcccbhcklhb", "vvcccbhcklhb", "4f2a9c1d7e3b", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
			{Serial: "cccccccccccc", Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: 8, Counter: 16, Secret: ykHOTP, Manufacturer: "Yubico"}},
			[]string{"4:Static Password (slot 1): not an OTP fob", "5:Challenge-Response: HMAC-SHA1 (slot 2): not an OTP fob",
				"6:OATH-HOTP (slot 1) without a token id: no serial to file it under"}},
		{"yubico-format.csv", YubicoCSV, []fob.Token{
			yk("2309853", "vvcccbhcklhb", "4f2a9c1d7e3b", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
			{Serial: "2309854", Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: 6, Counter: 32, Secret: ykHOTP, Manufacturer: "Yubico"},
			yk("vvcccbhcklhc", "vvcccbhcklhc", "5f2a9c1d7e3c", "1f1e2d3c4b5a69788796a5b4c3d2e1f0")},
			[]string{"3:HMAC-SHA1 challenge-response, or OATH-HOTP without a token id (this layout cannot tell them apart): not imported",
				"4:static password or Yubico challenge-response: not an OTP fob"}},
		{"keys.otpauth", OTPAuth, []fob.Token{
			{Serial: "ACME Co:alice@example.org", Kind: fob.TOTP, Algorithm: fob.SHA1, Digits: 6, Period: 30, Secret: s20, Issuer: "ACME Co", Label: "alice@example.org"},
			{Serial: "HW-0042", Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: 8, Counter: 42, Secret: s20, Label: "bob"},
			{Serial: "Example:carol", Kind: fob.TOTP, Algorithm: fob.SHA256, Digits: 6, Period: 60, Secret: s32, Issuer: "Example", Label: "carol"}}, nil},
	} {
		for _, f := range []Format{"", "auto", c.format} { // detected and forced
			got, rd, err := readAll(t, dir+c.file, f, Keys{})
			if err != nil {
				t.Errorf("%s: %v", c.file, err)
				continue
			}
			if rd.Format() != c.format {
				t.Errorf("%s read as %q: Format() is %q, want %q", c.file, f, rd.Format(), c.format)
			}
			if !slices.EqualFunc(got, c.want, tokEqual) {
				t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
			}
			var skips []string
			for _, s := range rd.Skipped() {
				skips = append(skips, strconv.Itoa(s.Line)+":"+s.Reason)
			}
			if !slices.Equal(skips, c.skips) {
				t.Errorf("%s: skipped %q, want %q", c.file, skips, c.skips)
			}
		}
	}
}

func TestTextErrors(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		f         Format
		want      error
		text      string
	}{
		{"bad-hex.csv", "", OATHCSV, nil, `bad-hex.csv: line 2 (serial "BAD-2"): bad hex in seed: character 6 is not a hex digit`},
		{"bad-duplicate.csv", "", OATHCSV, ErrDuplicate, `line 3 (serial "DUP-1"): duplicate serial: also on line 1`},
		{"bad-digits.csv", "", OATHCSV, nil, `line 1 (serial "W-1"): wrong digit count 9`},
		{"bad-user-blank.csv", "", OATHCSV, nil, `bad-user-blank.csv: line 4: user column holds only white space`},
		{"x.csv", "# version: 2\n\u00a0\t,U-1,3132333435363738393031323334353637383930\n", OATHCSV, nil, `line 2: user column holds only white space`},
		{"x.csv", "# version: 2\n\"  \",U-1,3132333435363738393031323334353637383930\n", OATHCSV, fob.ErrInvalid, `line 2 (serial "U-1"): invalid fob: user name "  " contains white space`},
		{"x.csv", "# version: 2\n\" carol\",U-1,3132333435363738393031323334353637383930\n", OATHCSV, fob.ErrInvalid, `user name " carol" contains white space`},
		{"x.csv", "# version: 2\n\"car\tol\",U-1,3132333435363738393031323334353637383930\n", OATHCSV, fob.ErrInvalid, `user name "car\tol" contains white space`},
		{"x.csv", "# version: 2\n" + strings.Repeat("u", 129) + ",U-1,3132333435363738393031323334353637383930\n", OATHCSV, fob.ErrInvalid, `line 2 (serial "U-1"): invalid fob: user name longer than 128`},
		{"x.csv", "# version: 2\n\"car\"ol,U-1,3132333435363738393031323334353637383930\n", OATHCSV, nil, `line 2: field 1: text after the closing quote`},
		{"x.csv", "# version: 2\n\"carol,U-1,3132333435363738393031323334353637383930\n", OATHCSV, nil, `line 2: field 1: quote not closed`},
		{"x.csv", "A,3132333435363738393031323334353637383930,\"hotp\"x\n", OATHCSV, nil, `line 1: field 3: text after the closing quote`},
		{"y.csv", "2309854,cccccccccccd,\"32\"1,8f3c2a1b4d5e6f708192a3b4c5d6e7f801234567,,2026-11-22T09:15:07,\n", YubicoCSV, nil, `line 1: field 3: text after the closing quote`},
		{"x.csv", "A,3132333435363738393031323334353637383g30,hotp\n", OATHCSV, nil, "bad hex in seed: character 38 is not a hex digit"},
		{"x.csv", "A,31323334,hotp\n", OATHCSV, fob.ErrInvalid, "seed too short: 4 bytes"},
		{"x.csv", "A,3132333435363738393031323334353637383930,ocra,6\n", OATHCSV, ErrUnsupported, `token type "ocra"`},
		{"x.csv", "A,3132333435363738393031323334353637383930,hotp,6,0,md5\n", OATHCSV, nil, `unknown hash algorithm "md5"`},
		{"x.csv", "A,3132333435363738393031323334353637383930,totp,6,-30\n", OATHCSV, nil, `time step "-30"`},
		{"x.csv", "A,3132333435363738393031323334353637383930,hotp,6,0,sha1,x\n", OATHCSV, nil, "row of 7 columns"},
		{"x.csv", "# version: 3\n", OATHCSV, ErrUnsupported, "OATH CSV version 3"},
		{"x.csv", "A," + strings.Repeat("0", 5000) + "\n", OATHCSV, nil, "line 1: line longer than 4096 bytes"},
		{"x.csv", "A,\xff\n", OATHCSV, nil, "not valid UTF-8"},
		{"y.csv", "Yubico OTP,t,1,vvcc,4f2a9c1d7e3b,0f1e2d3c4b5a6978,,,0,0,0,0,0,0,0,0,0,0\n", YubicoCSV, fob.ErrInvalid, "AES key of 8 bytes"},
		{"y.csv", "Yubico OTP,t,1,vvxx,4f2a9c1d7e3b,0f1e2d3c4b5a69788796a5b4c3d2e1f0,,,0,0,0,0,0,0,0,0,0,0\n", YubicoCSV, nil, "public id: character 'x' at 3 is not modhex"},
		{"y.csv", "Yubico OTP,t,1\n", YubicoCSV, nil, `"Yubico OTP" row of 3 columns (want 18)`},
		{"y.csv", "hello,world\n", YubicoCSV, nil, "neither a traditional log row"},
		{"k.otpauth", "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1\n", OTPAuth, nil, `line 1 (serial "a"): bad base32 in secret at character 32`},
		{"k.otpauth", "otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", OTPAuth, nil, "hotp URI without counter"},
		{"k.otpauth", "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=10\n", OTPAuth, nil, "wrong digit count 10"},
		{"k.otpauth", "otpauth://motp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", OTPAuth, ErrUnsupported, `OTP type "motp"`},
		{"k.otpauth", "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=MD5\n", OTPAuth, nil, "unknown hash algorithm"},
		{"k.otpauth", "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\notpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", OTPAuth, ErrDuplicate, "line 2"},
		{"k.otpauth", "otpauth://totp/%zz?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", OTPAuth, nil, "malformed otpauth:// URI"},
		{"bad-duplicate-param.otpauth", "", OTPAuth, nil, `bad-duplicate-param.otpauth: line 2 (serial "Example:bob"): parameter "secret" given twice`},
		{"k.otpauth", "otpauth://totp/a?Secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJA\n", OTPAuth, nil, `line 1 (serial "a"): parameter "secret" given twice`},
		{"k.otpauth", "otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1&counter=1\n", OTPAuth, nil, `parameter "counter" given twice`},
		{"k.otpauth", "otpauth://totp/a?digits=8&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&DIGITS=6\n", OTPAuth, nil, `parameter "digits" given twice`},
		{"k.otpauth", "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&GEZDGNBV&GEZDGNBV\n", OTPAuth, nil, `parameter 3 repeats an earlier one`},
		{"k.otpauth", "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ;digits=8\n", OTPAuth, nil, `malformed query`},
	} {
		var err error
		var toks []fob.Token
		if c.doc == "" {
			toks, _, err = readAll(t, dir+c.name, c.f, Keys{})
		} else {
			toks, _, err = readFrom(c.name, strings.NewReader(c.doc), c.f, Keys{})
		}
		if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s %.40q: got %d tokens, %v; want %q", c.name, c.doc, len(toks), err, c.text)
		}
		if err == nil {
			continue
		}
		if strings.Contains(err.Error(), "GEZDGNBV") || strings.Contains(err.Error(), "31323334") {
			t.Errorf("%s: error shows the secret: %v", c.name, err)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		file string
		want Format
	}{
		{"rfc6030-figure6.pskc", PSKC}, {"rfc6030-figure7.pskc", PSKC}, {"py-yubikey.pskc", PSKC}, {"bad-doctype.pskc", PSKC},
		{"oath-v1.csv", OATHCSV}, {"oath-v2-privacyidea.csv", OATHCSV}, {"oath-v2-user.csv", OATHCSV}, {"bad-hex.csv", OATHCSV},
		{"yubico-traditional.csv", YubicoCSV}, {"yubico-format.csv", YubicoCSV}, {"keys.otpauth", OTPAuth},
	} {
		head, _ := os.ReadFile(dir + c.file)
		if got, err := Detect(head); got != c.want || err != nil {
			t.Errorf("%s: %q, %v; want %q", c.file, got, err, c.want)
		}
	}
	for _, s := range []string{"", "hello\n", "\x00\x01\x02", "serial,seed\n", "{\"json\": 1}"} {
		if f, err := Detect([]byte(s)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %q, %v; want ErrFormat", s, f, err)
		}
	}
	if _, _, err := readFrom("n.txt", strings.NewReader("hello\n"), "", Keys{}); err == nil || err.Error() != "n.txt: unrecognised seed file format" {
		t.Errorf("NewReader of unknown: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": "", "auto": "", "PSKC": PSKC, " oath-csv": OATHCSV, "yubico-csv": YubicoCSV, "otpauth": OTPAuth} {
		if got, err := ParseFormat(in); got != want || err != nil {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestParseErrorText(t *testing.T) {
	for _, c := range []struct {
		e    ParseError
		want string
	}{
		{ParseError{File: "v.pskc", Record: 3, Serial: "987654321", Err: errors.New("x")}, `v.pskc: KeyPackage 3 (serial "987654321"): x`},
		{ParseError{File: "v.pskc", Record: 3, Line: 40, Err: errors.New("x")}, `v.pskc: KeyPackage 3 (line 40): x`},
		{ParseError{File: "v.csv", Line: 4, Serial: "A", Err: errors.New("x")}, `v.csv: line 4 (serial "A"): x`},
		{ParseError{File: "v.csv", Line: 4, Err: errors.New("x")}, `v.csv: line 4: x`},
		{ParseError{File: "v.csv", Err: errors.New("x")}, `v.csv: x`},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// What the user column may hold: padding around a name is dropped as in
// every column, inner spaces and commas (quoted) are kept, an empty column
// leaves the fob in stock.
func TestOATHUserColumn(t *testing.T) {
	const seed = ",3132333435363738393031323334353637383930,hotp\n"
	doc := "# version: 2\n  carol  ,U-1" + seed + `"dave,jr",U-2` + seed + ",U-3" + seed + `"",U-4` + seed + "\tjürgen\t,U-5" + seed
	toks, _, err := readFrom("u.csv", strings.NewReader(doc), "", Keys{})
	var users []string
	for _, t := range toks {
		users = append(users, t.User)
	}
	if err != nil || !slices.Equal(users, []string{"carol", "dave,jr", "", "", "jürgen"}) {
		t.Errorf("users %q, %v", users, err)
	}
}
