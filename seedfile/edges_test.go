package seedfile

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
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
