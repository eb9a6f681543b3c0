package usb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/keydesk/keydesk/hid"
)

// KeyRow is one security key as `keydesk key list` shows it: the USB view
// (ids, position, strings) merged with the HID view (hidraw node) and what
// the key said of itself when asked for a channel (CTAPHID INIT).
type KeyRow struct {
	Path         string `json:"path,omitempty"` // hidraw node to talk to; empty if none
	ID           string `json:"id"`             // "vvvv:pppp"
	VendorID     uint16 `json:"vendor_id"`
	ProductID    uint16 `json:"product_id"`
	Bus          int    `json:"bus,omitempty"`
	Address      int    `json:"address,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Model        string `json:"model,omitempty"`
	Certain      bool   `json:"certain"`
	Reason       string `json:"reason"`
	// From the INIT answer, when the key was probed.
	Probed        bool   `json:"probed"`
	U2F           bool   `json:"u2f"`
	CTAP2         bool   `json:"ctap2"`
	Wink          bool   `json:"wink"`
	DeviceVersion string `json:"device_version,omitempty"`
	// Problems met on the way (no permission, no hidraw node, no answer).
	Problems []string `json:"problems,omitempty"`
}

// Probe is the outcome of asking one hidraw node for a channel.
type Probe struct {
	Info hid.Info
	Err  error
}

// Merge joins the USB keys, the FIDO hidraw nodes and the probes (by node
// path) into one row per key. A node is matched to its USB device by bus
// and address when sysfs gave them, else by unique vendor and product id.
// A USB key without a node, and a node without a USB device (a key on
// Bluetooth, or libusb failing), get rows of their own.
func Merge(keys []Key, nodes []hid.DeviceInfo, probes map[string]Probe) []KeyRow {
	var rows []KeyRow
	used := make([]bool, len(keys))
	for _, n := range nodes {
		if !n.IsFIDO() {
			continue
		}
		i := matchNode(keys, n)
		var row KeyRow
		if i >= 0 {
			used[i] = true
			row = keyRow(keys[i])
		} else {
			row = KeyRow{ID: ID(n.VendorID, n.ProductID), VendorID: n.VendorID, ProductID: n.ProductID,
				Bus: n.USBBus, Address: n.USBAddress, Product: n.Name, Serial: n.Serial, Certain: true,
				Reason: "its HID report descriptor has the FIDO usage page 0xf1d0"}
			row.Model, _ = Model(n.VendorID, n.ProductID)
		}
		row.Path = n.Path
		if row.Serial == "" {
			row.Serial = n.Serial
		}
		if row.Manufacturer == "" && row.Product == "" {
			row.Product = n.Name
		}
		if p, ok := probes[n.Path]; ok {
			row.addProbe(p)
		}
		rows = append(rows, row)
	}
	for i, k := range keys {
		if !used[i] {
			row := keyRow(k)
			row.Problems = append(row.Problems, "no hidraw node found for it: is the usbhid driver bound, or is FIDO switched off on the key?")
			rows = append(rows, row)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Bus != rows[j].Bus {
			return rows[i].Bus < rows[j].Bus
		}
		return rows[i].Address < rows[j].Address
	})
	return rows
}

func matchNode(keys []Key, n hid.DeviceInfo) int {
	if n.USBBus != 0 {
		for i, k := range keys {
			if k.Bus == n.USBBus && k.Address == n.USBAddress {
				return i
			}
		}
		return -1
	}
	found := -1
	for i, k := range keys {
		if k.VendorID == n.VendorID && k.ProductID == n.ProductID {
			if found >= 0 {
				return -1 // two alike: cannot tell which
			}
			found = i
		}
	}
	return found
}

func keyRow(k Key) KeyRow {
	r := KeyRow{ID: k.ID(), VendorID: k.VendorID, ProductID: k.ProductID, Bus: k.Bus, Address: k.Address,
		Manufacturer: k.Manufacturer, Product: k.Product, Serial: k.Serial, Model: k.Model, Certain: k.Certain, Reason: k.Reason}
	if k.StringsError != "" {
		r.Problems = append(r.Problems, k.StringsError)
	}
	return r
}

func (r *KeyRow) addProbe(p Probe) {
	if p.Err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("no answer to INIT: %v", p.Err))
		return
	}
	r.Probed = true
	r.U2F, r.CTAP2 = p.Info.U2F(), p.Info.CTAP2()
	r.Wink = p.Info.Capabilities.Has(hid.CapWink)
	r.DeviceVersion = p.Info.Version()
}

// ListOptions tune List.
type ListOptions struct {
	// NoProbe skips asking each key for a channel (INIT).
	NoProbe bool
	// ProbeTimeout bounds each probe (default 2 s).
	ProbeTimeout time.Duration
	// Lister defaults to Libusb().
	Lister Lister
}

// List finds the security keys of this machine: USB devices from libusb,
// FIDO hidraw nodes from sysfs, and, unless told not to, each node probed
// with INIT. Problems with one device become that row's Problems; the
// error is for what stops the whole listing, joined with per-device
// listing errors when rows could still be made.
func List(ctx context.Context, opt ListOptions) ([]KeyRow, error) {
	if opt.Lister == nil {
		opt.Lister = Libusb()
	}
	if opt.ProbeTimeout <= 0 {
		opt.ProbeTimeout = 2 * time.Second
	}
	devs, usbErr := opt.Lister.Devices()
	nodes, hidErr := hid.Enumerate()
	probes := map[string]Probe{}
	if !opt.NoProbe {
		for _, n := range nodes {
			probes[n.Path] = probe(ctx, n.Path, opt.ProbeTimeout)
		}
	}
	return Merge(SecurityKeys(devs), nodes, probes), errors.Join(usbErr, hidErr)
}

func probe(ctx context.Context, path string, timeout time.Duration) Probe {
	dev, err := hid.OpenPath(path)
	if err != nil {
		return Probe{Err: err}
	}
	c, err := hid.Open(ctx, dev, hid.Options{Timeout: timeout})
	if err != nil {
		dev.Close()
		return Probe{Err: err}
	}
	defer c.Close()
	return Probe{Info: c.Info()}
}
