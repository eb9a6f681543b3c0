package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseSeed(t *testing.T) {
	rfc := []byte("12345678901234567890")
	for _, c := range []struct {
		text, format string
		seed         []byte
		encoding     string
		both         bool
		err          string
	}{
		{"3132333435363738393031323334353637383930\n", "auto", rfc, "hex", false, ""},
		{"31 32 33 34 35 36 37 38 39 30\r\n31 32 33 34 35 36 37 38 39 30", "auto", rfc, "hex", false, ""},
		{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "auto", rfc, "base32", false, ""},
		{"gezd gnbv gy3t qojq gezd gnbv gy3t qojq====\n", "auto", rfc, "base32", false, ""},
		// 20 characters are 12.5 bytes of base32: hex alone.
		{"ABCDEF2345ABCDEF2345", "auto", []byte{0xab, 0xcd, 0xef, 0x23, 0x45, 0xab, 0xcd, 0xef, 0x23, 0x45}, "hex", false, ""},
		{"ABCDEF2345ABCDEF2345ABCDEF2345ABCDEF2345", "auto", bytes.Repeat([]byte{0xab, 0xcd, 0xef, 0x23, 0x45}, 4), "hex", true, ""},
		{"ABCDEF2345ABCDEF2345ABCDEF2345ABCDEF2345", "base32", b32("ABCDEF2345ABCDEF2345ABCDEF2345ABCDEF2345"), "base32", false, ""},
		{"", "auto", nil, "", false, "the file holds no seed"},
		{"3132\nzz!", "auto", nil, "", false, `line 2, column 1: 'z' is not a hex digit; line 1, column 2: '1' is not a base32 letter or digit`},
		{"31323", "hex", nil, "", false, "the seed is not hex: an odd number of hex digits"},
		{"GEZ", "base32", nil, "", false, "a number of base32 characters that makes no whole bytes"},
		{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ", "base32", nil, "", false, "makes no whole bytes"},
		{"3132", "octal", nil, "", false, "--secret-format must be auto, hex or base32"},
	} {
		seed, enc, both, err := parseSeed(c.text, c.format)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || seed != nil {
				t.Errorf("%q as %s: %x, %v; want the error %q", c.text, c.format, seed, err, c.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(seed, c.seed) || enc != c.encoding || both != c.both {
			t.Errorf("%q as %s: %x %s %v %v; want %x %s %v", c.text, c.format, seed, enc, both, err, c.seed, c.encoding, c.both)
		}
	}
}

func b32(s string) []byte {
	b, err := base32NoPad.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParseSeed: a seed read is what the text says in the encoding
// named, and a failure gives nothing half-read.
func FuzzParseSeed(f *testing.F) {
	for _, s := range []string{"3132333435363738393031323334353637383930", "GEZDGNBVGY3TQOJQ", "gezd gnbv====", "ABCDEF23", "zz", " \n", "é1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		seed, enc, _, err := parseSeed(text, "auto")
		if err != nil {
			if seed != nil || enc != "" {
				t.Fatalf("%q: an error with a seed %x %q", text, seed, enc)
			}
			return
		}
		compact := strings.Join(strings.Fields(text), "")
		switch enc {
		case "hex":
			if !strings.EqualFold(hex.EncodeToString(seed), compact) {
				t.Fatalf("%q read as hex %x", text, seed)
			}
		case "base32":
			if again := base32NoPad.EncodeToString(seed); !strings.EqualFold(again, strings.TrimRight(compact, "=")) {
				t.Fatalf("%q read as base32 %x (%s)", text, seed, again)
			}
		default:
			t.Fatalf("%q: encoding %q", text, enc)
		}
	})
}
