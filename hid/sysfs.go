package hid

import (
	"errors"
	"fmt"
	"github.com/keydesk/keydesk/internal/sysfs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DeviceInfo describes one hidraw node, as Linux's sysfs shows it to anyone
// (no permission on the node is needed).
type DeviceInfo struct {
	Path      string  `json:"path"` // /dev/hidrawN
	VendorID  uint16  `json:"vendor_id"`
	ProductID uint16  `json:"product_id"`
	Name      string  `json:"name,omitempty"`   // HID_NAME: manufacturer and product
	Serial    string  `json:"serial,omitempty"` // HID_UNIQ, often empty
	Usages    []Usage `json:"usages"`
	// USB position, when the HID device sits on USB: bus and device
	// number as lsusb shows them, and the interface number.
	USBBus       int `json:"usb_bus,omitempty"`
	USBAddress   int `json:"usb_address,omitempty"`
	USBInterface int `json:"usb_interface,omitempty"`
}

// IsFIDO reports whether the node is a CTAPHID interface.
func (d DeviceInfo) IsFIDO() bool {
	for _, u := range d.Usages {
		if u.IsFIDO() {
			return true
		}
	}
	return false
}

// Enumerate lists the FIDO hidraw nodes of this machine. It returns the
// nodes it could read, and an error naming each node it could not.
func Enumerate() ([]DeviceInfo, error) {
	all, err := scanSysfs("/sys", "/dev")
	var fido []DeviceInfo
	for _, d := range all {
		if d.IsFIDO() {
			fido = append(fido, d)
		}
	}
	return fido, err
}

// scanSysfs reads every node of sys/class/hidraw; dev is where the nodes
// appear. Tests pass a fake tree.
func scanSysfs(sys, dev string) ([]DeviceInfo, error) {
	dir := filepath.Join(sys, "class", "hidraw")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no hidraw driver loaded: no devices
	}
	if err != nil {
		return nil, fmt.Errorf("hid: listing hidraw devices: %w", err)
	}
	var (
		infos []DeviceInfo
		errs  []error
	)
	for _, e := range entries {
		info, err := readNode(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("hid: %s: %w", e.Name(), err))
			continue
		}
		info.Path = filepath.Join(dev, e.Name())
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return nodeLess(infos[i].Path, infos[j].Path) })
	return infos, errors.Join(errs...)
}

// nodeLess orders hidraw2 before hidraw10.
func nodeLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// readNode reads one hidraw node's HID device (its "device" link) and the
// USB interface and device above it.
func readNode(node string) (DeviceInfo, error) {
	hidDir, err := filepath.EvalSymlinks(filepath.Join(node, "device"))
	if err != nil {
		return DeviceInfo{}, err
	}
	desc, err := sysfs.ReadCapped(filepath.Join(hidDir, "report_descriptor"), MaxDescriptor)
	if err != nil {
		return DeviceInfo{}, err
	}
	var info DeviceInfo
	if info.Usages, err = ApplicationUsages(desc); err != nil {
		return DeviceInfo{}, err
	}
	uevent, err := sysfs.ReadCapped(filepath.Join(hidDir, "uevent"), 4096)
	if err != nil {
		return DeviceInfo{}, err
	}
	if err := parseUevent(uevent, &info); err != nil {
		return DeviceInfo{}, err
	}
	// A USB HID device's directory sits in its interface's (1-1:1.0),
	// which sits in the USB device's (1-1), where busnum and devnum are.
	intf := filepath.Dir(hidDir)
	if n, err := sysfs.ReadInt(filepath.Join(intf, "bInterfaceNumber"), 16); err == nil {
		info.USBInterface = n
		usb := filepath.Dir(intf)
		bus, err1 := sysfs.ReadInt(filepath.Join(usb, "busnum"), 10)
		addr, err2 := sysfs.ReadInt(filepath.Join(usb, "devnum"), 10)
		if err1 == nil && err2 == nil {
			info.USBBus, info.USBAddress = bus, addr
		}
	}
	return info, nil
}

// parseUevent reads the HID device's uevent file: KEY=value lines, of which
// HID_ID (bus:vendor:product in hex, e.g. 0003:00001050:00000407),
// HID_NAME and HID_UNIQ matter here.
func parseUevent(b []byte, info *DeviceInfo) error {
	for n, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "HID_ID":
			f := strings.Split(v, ":")
			if len(f) != 3 {
				return fmt.Errorf("uevent line %d: HID_ID %q is not bus:vendor:product", n+1, v)
			}
			vid, err1 := strconv.ParseUint(f[1], 16, 16)
			pid, err2 := strconv.ParseUint(f[2], 16, 16)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("uevent line %d: HID_ID %q has a bad vendor or product", n+1, v)
			}
			info.VendorID, info.ProductID = uint16(vid), uint16(pid)
		case "HID_NAME":
			info.Name = v
		case "HID_UNIQ":
			info.Serial = v
		}
	}
	return nil
}
