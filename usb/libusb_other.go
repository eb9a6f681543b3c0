//go:build !cgo

package usb

import "errors"

// Libusb returns the Lister of this machine; without cgo there is no
// libusb, and it fails.
func Libusb() Lister { return noLibusb{} }

type noLibusb struct{}

func (noLibusb) Devices() ([]Device, error) {
	return nil, errors.New("usb: built without cgo, so without libusb")
}
