// Command usbprobe shows the USB lab's key as libusb sees it, through
// github.com/google/gousb as keydesk's usb package does: it opens every
// device on every bus and prints its ids, speed, HID interfaces and strings.
// Opening a device and reading its string descriptors needs a working
// /dev/bus/usb, so success here means libusb works in the guest.
//
// Usage: usbprobe [-vid 1209 -pid 0001]
//
// With -vid and -pid it exits 1 unless that device was found and its
// strings read.
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/google/gousb"
)

func main() {
	vid := flag.String("vid", "", "vendor id (hex) that must be present")
	pid := flag.String("pid", "", "product id (hex) that must be present")
	flag.Parse()
	if err := run(*vid, *pid); err != nil {
		fmt.Fprintf(os.Stderr, "usbprobe: %v\n", err)
		os.Exit(1)
	}
}

func run(vidHex, pidHex string) error {
	var want *[2]gousb.ID
	if vidHex != "" || pidHex != "" {
		v, err1 := strconv.ParseUint(vidHex, 16, 16)
		p, err2 := strconv.ParseUint(pidHex, 16, 16)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("-vid and -pid need 4 hex digits each, got %q and %q", vidHex, pidHex)
		}
		want = &[2]gousb.ID{gousb.ID(v), gousb.ID(p)}
	}
	ctx := gousb.NewContext()
	defer ctx.Close()
	devs, err := ctx.OpenDevices(func(*gousb.DeviceDesc) bool { return true })
	defer func() {
		for _, d := range devs {
			d.Close()
		}
	}()
	if err != nil {
		// Devices opened before the error are still listed.
		fmt.Fprintf(os.Stderr, "usbprobe: open devices: %v\n", err)
	}
	found := false
	for _, d := range devs {
		line, ok := describe(d)
		fmt.Println(line)
		if want != nil && d.Desc.Vendor == want[0] && d.Desc.Product == want[1] && ok {
			found = true
		}
	}
	fmt.Printf("%d devices\n", len(devs))
	if want != nil && !found {
		return fmt.Errorf("no readable device %s:%s", want[0], want[1])
	}
	return nil
}

// describe prints one device like lsusb, plus its HID interfaces and
// strings; ok says whether every string descriptor read.
func describe(d *gousb.Device) (line string, ok bool) {
	desc := d.Desc
	var b strings.Builder
	fmt.Fprintf(&b, "bus %03d device %03d id %s:%s speed %s", desc.Bus, desc.Address, desc.Vendor, desc.Product, desc.Speed)
	for _, n := range slices.Sorted(maps.Keys(desc.Configs)) {
		for _, intf := range desc.Configs[n].Interfaces {
			for _, alt := range intf.AltSettings {
				if alt.Class == gousb.ClassHID {
					fmt.Fprintf(&b, " hid-interface %d (%d endpoints)", alt.Number, len(alt.Endpoints))
				}
			}
		}
	}
	ok = true
	for _, s := range []struct {
		name string
		get  func() (string, error)
	}{{"manufacturer", d.Manufacturer}, {"product", d.Product}, {"serial", d.SerialNumber}} {
		v, err := s.get()
		if err != nil {
			fmt.Fprintf(&b, " %s <%v>", s.name, err)
			ok = false
			continue
		}
		fmt.Fprintf(&b, " %s %q", s.name, v)
	}
	return b.String(), ok
}
