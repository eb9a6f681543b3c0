//go:build !linux || !cgo

package hid

import "fmt"

// OpenPath opens a FIDO hidraw node. Only Linux with cgo has them.
func OpenPath(path string) (Device, error) {
	return nil, fmt.Errorf("hid: opening %s: hidraw needs Linux and cgo", path)
}
