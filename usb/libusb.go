//go:build cgo

package usb

import (
	"errors"
	"fmt"
	"sort"

	"github.com/google/gousb"
)

// Libusb returns the Lister of this machine: libusb for the devices and
// their strings, sysfs for HID report descriptors (and for strings when a
// device cannot be opened).
func Libusb() Lister { return libusbLister{sys: "/sys"} }

type libusbLister struct{ sys string }

// Devices lists every device on every bus. A device that cannot be opened
// is still listed, with the reason in StringsError; one whose descriptor
// cannot be read is left out and named in the error.
func (l libusbLister) Devices() ([]Device, error) {
	ctx := gousb.NewContext()
	defer ctx.Close()
	var descs []*gousb.DeviceDesc
	_, listErr := ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		descs = append(descs, d)
		return false
	})
	if listErr != nil {
		listErr = fmt.Errorf("usb: listing devices: %w", listErr)
	}
	sort.Slice(descs, func(i, j int) bool {
		if descs[i].Bus != descs[j].Bus {
			return descs[i].Bus < descs[j].Bus
		}
		return descs[i].Address < descs[j].Address
	})
	devs := make([]Device, 0, len(descs))
	for _, desc := range descs {
		devs = append(devs, l.device(ctx, desc))
	}
	return devs, listErr
}

func (l libusbLister) device(ctx *gousb.Context, desc *gousb.DeviceDesc) Device {
	d := Device{
		Bus:       desc.Bus,
		Address:   desc.Address,
		Port:      portName(desc.Bus, desc.Path),
		VendorID:  uint16(desc.Vendor),
		ProductID: uint16(desc.Product),
	}
	cfg := activeConfig(desc)
	for _, in := range desc.Configs[cfg].Interfaces {
		if len(in.AltSettings) == 0 {
			continue
		}
		alt := in.AltSettings[0]
		i := Interface{Number: in.Number, Class: int(alt.Class), SubClass: int(alt.SubClass), Protocol: int(alt.Protocol)}
		if i.Class == ClassHID {
			u, err := hidUsages(l.sys, d.Port, in.Number)
			if err != nil {
				i.DescriptorError = err.Error()
			}
			i.Usages = u
		}
		d.Interfaces = append(d.Interfaces, i)
	}
	// Open this device alone, so that its own error is the one reported.
	opened, err := ctx.OpenDevices(func(o *gousb.DeviceDesc) bool { return o.Bus == desc.Bus && o.Address == desc.Address })
	for _, o := range opened {
		defer o.Close()
	}
	if err == nil && len(opened) == 1 {
		err = readStrings(opened[0], &d)
	} else if err == nil {
		err = errors.New("device went away")
	}
	if err != nil {
		if m, p, s, ok := sysfsStrings(l.sys, d.Port); ok {
			d.Manufacturer, d.Product, d.Serial = m, p, s
		} else {
			d.StringsError = fmt.Sprintf("cannot read the device's strings: %v", err)
		}
	}
	return d
}

// activeConfig guesses the active configuration without opening the
// device: the lowest-numbered, which is the one nearly every device uses.
func activeConfig(desc *gousb.DeviceDesc) int {
	best := -1
	for n := range desc.Configs {
		if best < 0 || n < best {
			best = n
		}
	}
	return best
}

func readStrings(dev *gousb.Device, d *Device) error {
	var errs []error
	var err error
	if d.Manufacturer, err = dev.Manufacturer(); err != nil {
		errs = append(errs, fmt.Errorf("manufacturer: %w", err))
	}
	if d.Product, err = dev.Product(); err != nil {
		errs = append(errs, fmt.Errorf("product: %w", err))
	}
	if d.Serial, err = dev.SerialNumber(); err != nil {
		errs = append(errs, fmt.Errorf("serial: %w", err))
	}
	return errors.Join(errs...)
}
