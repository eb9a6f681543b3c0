package hid

import (
	"strings"
	"testing"
)

// bootKeyboard is modelled on the boot keyboard descriptor of HID 1.11
// Appendix E.6: one application collection on the Generic Desktop page,
// usage Keyboard. Not a key.
var bootKeyboard = []byte{
	0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7,
	0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01,
	0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01,
	0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
	0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65,
	0x81, 0x00, 0xc0,
}

func TestApplicationUsages(t *testing.T) {
	u, err := ApplicationUsages(FIDODescriptor())
	if err != nil || len(u) != 1 || !u[0].IsFIDO() {
		t.Fatalf("FIDO descriptor: %v, %v", u, err)
	}
	u, err = ApplicationUsages(bootKeyboard)
	if err != nil || len(u) != 1 || u[0] != (Usage{Page: 1, Usage: 6}) {
		t.Fatalf("keyboard: %v, %v", u, err)
	}
	// A composite descriptor (keyboard, then a FIDO collection behind Push,
	// a 32-bit usage and a long item) finds both.
	var composite []byte
	composite = append(composite, bootKeyboard...)
	composite = append(composite, 0xa4, 0xfe, 0x01, 0x00, 0x42, 0x0b, 0x01, 0x00, 0xd0, 0xf1, 0xa1, 0x01, 0xc0, 0xb4)
	u, err = ApplicationUsages(composite)
	if err != nil || len(u) != 2 || !u[1].IsFIDO() {
		t.Fatalf("composite: %v, %v", u, err)
	}
}

func TestApplicationUsagesErrors(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0x06, 0xd0}, "byte 0: item 0x06 needs 2 data bytes, 1 left"},
		{[]byte{0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01}, "byte 7: 1 collections left open"},
		{[]byte{0xc0}, "byte 0: End Collection without Collection"},
		{[]byte{0xb4}, "byte 0: Pop without Push"},
		{[]byte{0xa1, 0x01, 0xc0}, "byte 0: application collection without a usage"},
		{[]byte{0xfe, 0x05}, "byte 0: long item cut short"},
		{[]byte{0xfe, 0x05, 0x01, 0x00}, "long item data cut short"},
		{[]byte(strings.Repeat("\xa1\x00", 17)), "byte 32: collections nested too deep"},
		{make([]byte, MaxDescriptor+1), "4097 bytes exceed 4096"},
	} {
		if _, err := ApplicationUsages(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("% x: got %v, want %q", tt.in[:min(len(tt.in), 12)], err, tt.want)
		}
	}
}

func FuzzApplicationUsages(f *testing.F) {
	f.Add(FIDODescriptor())
	f.Add(bootKeyboard)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ApplicationUsages(b)
		if err != nil && u != nil {
			t.Fatal("partial result with an error")
		}
		if len(u) > len(b) {
			t.Fatal("more collections than bytes")
		}
	})
}
