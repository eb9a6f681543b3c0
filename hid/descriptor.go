package hid

import "fmt"

// FIDOUsagePage is the HID usage page of FIDO authenticators, and
// FIDOUsage the usage of their CTAPHID application collection (CTAP 2.1
// §11.2.8.1).
const (
	FIDOUsagePage uint16 = 0xf1d0
	FIDOUsage     uint16 = 0x01
)

// MaxDescriptor bounds a report descriptor; Linux refuses larger ones
// (HID_MAX_DESCRIPTOR_SIZE).
const MaxDescriptor = 4096

// Usage is the usage page and usage of a top-level application collection.
type Usage struct {
	Page  uint16 `json:"page"`
	Usage uint16 `json:"usage"`
}

// IsFIDO reports whether u is the CTAPHID collection.
func (u Usage) IsFIDO() bool { return u.Page == FIDOUsagePage && u.Usage == FIDOUsage }

// DescriptorError is a report descriptor that ApplicationUsages cannot read.
type DescriptorError struct {
	Byte   int
	Reason string
}

func (e *DescriptorError) Error() string {
	return fmt.Sprintf("hid: report descriptor, byte %d: %s", e.Byte, e.Reason)
}

// ApplicationUsages walks a HID report descriptor (HID 1.11 §6.2.2) and
// returns the usage of each top-level application collection; a device is
// a FIDO authenticator when one of them [Usage.IsFIDO]. It reads only what
// that needs: Usage Page (global, with Push and Pop), Usage (local, 16- or
// 32-bit), Collection and End Collection.
func ApplicationUsages(desc []byte) ([]Usage, error) {
	if len(desc) > MaxDescriptor {
		return nil, &DescriptorError{Byte: MaxDescriptor, Reason: fmt.Sprintf("%d bytes exceed %d", len(desc), MaxDescriptor)}
	}
	const maxStack = 16
	var (
		usages []Usage
		page   uint16
		pages  []uint16 // Push/Pop stack of the usage page
		local  []Usage  // usages declared since the last main item
		depth  int
	)
	for i := 0; i < len(desc); {
		prefix := desc[i]
		if prefix == 0xfe { // long item (§6.2.2.3): size, tag, data; none we need
			if i+2 >= len(desc) {
				return nil, &DescriptorError{Byte: i, Reason: "long item cut short"}
			}
			i += 3 + int(desc[i+1])
			if i > len(desc) {
				return nil, &DescriptorError{Byte: len(desc), Reason: "long item data cut short"}
			}
			continue
		}
		size := int(prefix & 0x03)
		if size == 3 {
			size = 4
		}
		if i+1+size > len(desc) {
			return nil, &DescriptorError{Byte: i, Reason: fmt.Sprintf("item 0x%02x needs %d data bytes, %d left", prefix, size, len(desc)-i-1)}
		}
		var v uint32
		for k := size - 1; k >= 0; k-- {
			v = v<<8 | uint32(desc[i+1+k])
		}
		at := i
		i += 1 + size
		switch prefix &^ 0x03 { // tag and type
		case 0x04: // Usage Page (global)
			page = uint16(v)
		case 0xa4: // Push
			if len(pages) == maxStack {
				return nil, &DescriptorError{Byte: at, Reason: "Push nested too deep"}
			}
			pages = append(pages, page)
		case 0xb4: // Pop
			if len(pages) == 0 {
				return nil, &DescriptorError{Byte: at, Reason: "Pop without Push"}
			}
			page, pages = pages[len(pages)-1], pages[:len(pages)-1]
		case 0x08: // Usage (local); a 4-byte usage carries its own page
			u := Usage{Page: page, Usage: uint16(v)}
			if size == 4 {
				u.Page = uint16(v >> 16)
			}
			local = append(local, u)
		case 0xa0: // Collection (main)
			if depth == 0 && v == 0x01 { // application
				if len(local) == 0 {
					return nil, &DescriptorError{Byte: at, Reason: "application collection without a usage"}
				}
				usages = append(usages, local[0])
			}
			depth++
			if depth > maxStack {
				return nil, &DescriptorError{Byte: at, Reason: "collections nested too deep"}
			}
			local = local[:0]
		case 0xc0: // End Collection (main)
			if depth == 0 {
				return nil, &DescriptorError{Byte: at, Reason: "End Collection without Collection"}
			}
			depth--
			local = local[:0]
		case 0x80, 0x90, 0xb0: // Input, Output, Feature (main)
			local = local[:0]
		}
	}
	if depth != 0 {
		return nil, &DescriptorError{Byte: len(desc), Reason: fmt.Sprintf("%d collections left open", depth)}
	}
	return usages, nil
}

// fidoDescriptor is the report descriptor a FIDO key presents (CTAP 2.1
// §11.2.8.1): one application collection on page 0xF1D0 with a 64-byte
// input report (usage 0x20) and a 64-byte output report (usage 0x21).
// The lab gadget is configured with it; tests use it as a real example.
var fidoDescriptor = []byte{
	0x06, 0xd0, 0xf1, // Usage Page (FIDO Alliance)
	0x09, 0x01, // Usage (CTAPHID)
	0xa1, 0x01, // Collection (Application)
	0x09, 0x20, //   Usage (Input Report Data)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xff, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8)
	0x95, 0x40, //   Report Count (64)
	0x81, 0x02, //   Input (Data, Var, Abs)
	0x09, 0x21, //   Usage (Output Report Data)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xff, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8)
	0x95, 0x40, //   Report Count (64)
	0x91, 0x02, //   Output (Data, Var, Abs)
	0xc0, // End Collection
}

// FIDODescriptor returns a copy of the FIDO report descriptor, for a HID
// gadget that should look like a security key.
func FIDODescriptor() []byte { return append([]byte(nil), fidoDescriptor...) }
