package usb

import (
	"errors"
	"fmt"
	"github.com/keydesk/keydesk/internal/sysfs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keydesk/keydesk/hid"
)

// portName is the sysfs name of a device: "1-1.2" for port 2 of the hub
// on port 1 of bus 1; root hubs are "usb1".
func portName(bus int, path []int) string {
	if len(path) == 0 {
		return fmt.Sprintf("usb%d", bus)
	}
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = strconv.Itoa(p)
	}
	return fmt.Sprintf("%d-%s", bus, strings.Join(parts, "."))
}

// hidUsages reads an interface's HID report descriptor where Linux shows
// it to anyone: /sys/bus/usb/devices/<port>:<config>.<interface>/<hid
// device>/report_descriptor. Reading it from the device instead would need
// a control transfer that usbfs refuses while usbhid holds the interface.
func hidUsages(sys, port string, intf int) ([]hid.Usage, error) {
	pattern := filepath.Join(sys, "bus", "usb", "devices", fmt.Sprintf("%s:*.%d", port, intf), "*", "report_descriptor")
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no report descriptor in sysfs (is usbhid bound to it?)")
	}
	var usages []hid.Usage
	for _, f := range files {
		desc, err := sysfs.ReadCapped(f, hid.MaxDescriptor)
		if err != nil {
			return nil, err
		}
		u, err := hid.ApplicationUsages(desc)
		if err != nil {
			return nil, err
		}
		usages = append(usages, u...)
	}
	if usages == nil {
		usages = []hid.Usage{} // read, and empty: not "unread"
	}
	return usages, nil
}

// sysfsStrings reads the strings the kernel read when the device was
// plugged in; unlike libusb this needs no access to /dev/bus/usb.
func sysfsStrings(sys, port string) (manufacturer, product, serial string, ok bool) {
	dir := filepath.Join(sys, "bus", "usb", "devices", port)
	read := func(name string) string {
		b, err := sysfs.ReadCapped(filepath.Join(dir, name), 256)
		if err != nil {
			return ""
		}
		ok = true
		return strings.TrimRight(string(b), "\n")
	}
	return read("manufacturer"), read("product"), read("serial"), ok
}
