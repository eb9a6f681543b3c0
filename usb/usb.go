// Package usb tells what is plugged in: every USB device with its ids,
// position and strings, which of them are security keys, and, merged with
// the HID view of package hid, one row per key for `keydesk key list`.
//
// libusb (github.com/google/gousb) stays behind [Lister], so the logic is
// tested on a table of devices; the real one is tested in the USB lab.
package usb

import (
	"fmt"
	"sort"

	"github.com/keydesk/keydesk/hid"
)

// Device is one USB device, as one line of lsusb and its interfaces.
type Device struct {
	Bus          int    `json:"bus"`
	Address      int    `json:"address"`
	Port         string `json:"port,omitempty"` // sysfs name, e.g. "1-1.2"
	VendorID     uint16 `json:"vendor_id"`
	ProductID    uint16 `json:"product_id"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// StringsError says why the strings are missing: opening a device
	// needs write access to /dev/bus/usb, which users often lack.
	StringsError string      `json:"strings_error,omitempty"`
	Interfaces   []Interface `json:"interfaces,omitempty"`
}

// Interface is one interface of the active configuration (alternate
// setting 0).
type Interface struct {
	Number   int `json:"number"`
	Class    int `json:"class"`
	SubClass int `json:"subclass"`
	Protocol int `json:"protocol"`
	// Usages are the application collections of a HID interface's report
	// descriptor; DescriptorError says why they could not be read.
	Usages          []hid.Usage `json:"usages,omitempty"`
	DescriptorError string      `json:"descriptor_error,omitempty"`
}

// ClassHID is the USB interface class of HID devices.
const ClassHID = 0x03

// ID returns "vvvv:pppp".
func (d Device) ID() string { return ID(d.VendorID, d.ProductID) }

// Lister lists the USB devices of the machine.
type Lister interface {
	Devices() ([]Device, error)
}

// Key is a device found to be a security key, and why.
type Key struct {
	Device
	Model string `json:"model,omitempty"` // from the table of known keys
	// Certain is true when a FIDO interface or a known id proves it; a
	// device of a key vendor whose descriptor could not be read is only
	// probably a key.
	Certain bool   `json:"certain"`
	Reason  string `json:"reason"`
	// FIDOInterface is the interface number with usage page 0xF1D0, or -1.
	FIDOInterface int `json:"fido_interface"`
}

// SecurityKeys picks the security keys out of devs (CTAP 2.1 §11.2.8.1: a
// FIDO key has a HID interface whose report descriptor has an application
// collection with usage page 0xF1D0 and usage 1). A known vendor and
// product id also counts, for when the descriptor cannot be read.
func SecurityKeys(devs []Device) []Key {
	var keys []Key
	for _, d := range devs {
		if k, ok := classify(d); ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Bus != keys[j].Bus {
			return keys[i].Bus < keys[j].Bus
		}
		return keys[i].Address < keys[j].Address
	})
	return keys
}

func classify(d Device) (Key, bool) {
	k := Key{Device: d, FIDOInterface: -1}
	k.Model, _ = Model(d.VendorID, d.ProductID)
	hidRead, hidUnread := false, false
	for _, in := range d.Interfaces {
		if in.Class != ClassHID {
			continue
		}
		if in.Usages == nil {
			hidUnread = true
			continue
		}
		hidRead = true
		for _, u := range in.Usages {
			if u.IsFIDO() {
				k.Certain, k.FIDOInterface = true, in.Number
				k.Reason = fmt.Sprintf("HID interface %d has the FIDO usage page 0xf1d0", in.Number)
				return k, true
			}
		}
	}
	// Descriptors that were all read and show no FIDO collection win over
	// the id: a key with FIDO switched off is not a FIDO key today.
	if hidRead && !hidUnread {
		return Key{}, false
	}
	if k.Model != "" {
		k.Certain = true
		k.Reason = fmt.Sprintf("%s is a known security key (%s)", d.ID(), k.Model)
		return k, true
	}
	if v, ok := keyVendors[d.VendorID]; ok && hidUnread {
		k.Reason = fmt.Sprintf("%s makes security keys and this device's HID report descriptor could not be read", v)
		return k, true
	}
	return Key{}, false
}
