package u2f

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestAPDUEncode(t *testing.T) {
	for _, tt := range []struct {
		a    APDU
		want []byte
	}{
		{APDU{Ins: InsVersion}, []byte{0, 3, 0, 0, 0, 0, 0}},
		{APDU{Ins: InsAuthenticate, P1: AuthCheckOnly, Data: []byte{0xaa, 0xbb}}, []byte{0, 2, 7, 0, 0, 0, 2, 0xaa, 0xbb, 0, 0}},
	} {
		if got := tt.a.Encode(); !bytes.Equal(got, tt.want) {
			t.Errorf("%+v: % x, want % x", tt.a, got, tt.want)
		}
		back, err := ParseAPDU(tt.want)
		if err != nil || back.Ins != tt.a.Ins || back.P1 != tt.a.P1 || !bytes.Equal(back.Data, tt.a.Data) {
			t.Errorf("% x parsed to %+v, %v", tt.want, back, err)
		}
	}
	long := APDU{Ins: InsRegister, Data: make([]byte, 300)}
	if back, err := ParseAPDU(long.Encode()); err != nil || len(back.Data) != 300 {
		t.Errorf("300-byte request: %d bytes, %v", len(back.Data), err)
	}
}

func TestParseAPDU(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		data int
		want string
	}{
		{[]byte{0, 3, 0, 0}, 0, ""},             // case 1
		{[]byte{0, 3, 0, 0, 0}, 0, ""},          // case 2, short Le
		{[]byte{0, 2, 3, 0, 2, 9, 9}, 2, ""},    // short Lc, no Le
		{[]byte{0, 2, 3, 0, 2, 9, 9, 0}, 2, ""}, // short Lc and Le
		{[]byte{0, 2, 3, 0, 0, 0, 1, 9}, 1, ""}, // extended Lc, no Le
		{[]byte{0, 3}, 0, "byte 2: request of 2 bytes has no complete header"},
		{[]byte{1, 3, 0, 0}, 0, "byte 0: class 0x01"},
		{[]byte{0, 2, 3, 0, 3, 9, 9}, 0, "byte 4: short length 3 does not match 2 bytes"},
		{[]byte{0, 2, 3, 0, 0, 1}, 0, "byte 6: extended length cut short"},
		{[]byte{0, 2, 3, 0, 0, 0, 0, 1}, 0, "byte 5: extended Lc of 0"},
		{[]byte{0, 2, 3, 0, 0, 0, 5, 1, 2}, 0, "byte 5: extended length 5 does not match 2 bytes"},
		{make([]byte, MaxMessage+1), 0, "exceeds 7609"},
	} {
		a, err := ParseAPDU(tt.in)
		if tt.want == "" {
			if err != nil || len(a.Data) != tt.data {
				t.Errorf("% x: %d data bytes, %v", tt.in, len(a.Data), err)
			}
			continue
		}
		var ae *APDUError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("% x: got %v, want %q", tt.in, err, tt.want)
		}
	}
}

func FuzzParseAPDU(f *testing.F) {
	f.Add(APDU{Ins: InsVersion}.Encode())
	f.Add(APDU{Ins: InsRegister, Data: make([]byte, 64)}.Encode())
	f.Add([]byte{0, 2, 3, 0, 2, 9, 9, 0})
	// testdata/fuzz/FuzzParseAPDU holds the requests of the recorded
	// device transcripts (testdata/u2f).
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAPDU(b)
		if err != nil {
			if a.Data != nil || a.Ins != 0 {
				t.Fatal("partial result with an error")
			}
			return
		}
		if len(a.Data) > len(b) {
			t.Fatal("more data than input")
		}
		if len(a.Data) > 0 && !bytes.Contains(b, a.Data) {
			t.Fatal("data not from the input")
		}
	})
}
