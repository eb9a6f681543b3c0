package usb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/hid"
)

// lsusb is a machine described as lsusb would, one device a line: bus,
// device, id, port, "manufacturer|product|serial" (or "!reason" when the
// strings could not be read), then each interface as class[:page/usage...]
// with "?" for a report descriptor that could not be read.
const lsusb = `
001 001 1d6b:0002 usb1 Linux Foundation|2.0 root hub|0000:00:14.0 09
001 002 1050:0407 1-1 Yubico|YubiKey OTP+FIDO+CCID| 03:0001/0006 03:f1d0/0001 0b
001 003 046d:c31c 1-2 Logitech|USB Keyboard| 03:0001/0006,000c/0001
001 004 18d1:5026 1-3 !permission denied 03:?
001 005 1050:0401 1-4 !permission denied 03:?
001 006 096e:0006 1-5 Feitian|Smart card reader| 03:?
001 007 0483:cdab 1-6 STMicroelectronics|Tomu| 03:0001/0002
002 002 1209:0001 2-1 keydesk lab|keydesk softkey|LAB0001 03:f1d0/0001
`

type table []Device

func (t table) Devices() ([]Device, error) { return t, nil }

func parseTable(t *testing.T, s string) table {
	t.Helper()
	var devs table
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		bus, _ := strconv.Atoi(f[0])
		addr, _ := strconv.Atoi(f[1])
		var vid, pid uint16
		fmt.Sscanf(f[2], "%04x:%04x", &vid, &pid)
		d := Device{Bus: bus, Address: addr, VendorID: vid, ProductID: pid, Port: f[3]}
		rest := strings.Join(f[4:], " ")
		// strings run up to the first interface field (two hex digits).
		i := strings.LastIndex(rest, "|")
		if strings.HasPrefix(rest, "!") {
			i = strings.Index(rest, " 0")
			d.StringsError = rest[1:i]
		} else {
			j := strings.Index(rest[i:], " ")
			s := strings.Split(rest[:i+j], "|")
			d.Manufacturer, d.Product, d.Serial = s[0], s[1], s[2]
			i += j
		}
		for n, spec := range strings.Fields(rest[i:]) {
			class, usages, _ := strings.Cut(spec, ":")
			c, _ := strconv.ParseInt(class, 16, 0)
			in := Interface{Number: n, Class: int(c)}
			switch {
			case usages == "?":
				in.DescriptorError = "no report descriptor in sysfs"
			case usages != "":
				in.Usages = []hid.Usage{}
				for _, u := range strings.Split(usages, ",") {
					var page, usage uint16
					fmt.Sscanf(u, "%04x/%04x", &page, &usage)
					in.Usages = append(in.Usages, hid.Usage{Page: page, Usage: usage})
				}
			}
			d.Interfaces = append(d.Interfaces, in)
		}
		devs = append(devs, d)
	}
	return devs
}

func TestSecurityKeys(t *testing.T) {
	keys := SecurityKeys(parseTable(t, lsusb))
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%s certain=%v fido=%d: %s", k.ID(), k.Certain, k.FIDOInterface, k.Reason))
	}
	want := []string{
		"1050:0407 certain=true fido=1: HID interface 1 has the FIDO usage page 0xf1d0",
		"18d1:5026 certain=true fido=-1: 18d1:5026 is a known security key (Google Titan U2F)",
		"1050:0401 certain=false fido=-1: Yubico makes security keys and this device's HID report descriptor could not be read",
		"1209:0001 certain=true fido=0: HID interface 0 has the FIDO usage page 0xf1d0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if keys[0].Model != "YubiKey 4/5 OTP+FIDO+CCID" || keys[0].Manufacturer != "Yubico" {
		t.Errorf("first key %+v", keys[0])
	}
}

func TestMerge(t *testing.T) {
	keys := SecurityKeys(parseTable(t, lsusb))
	nodes := []hid.DeviceInfo{
		{Path: "/dev/hidraw1", VendorID: 0x1050, ProductID: 0x0407, Usages: []hid.Usage{{Page: 0xf1d0, Usage: 1}}, USBBus: 1, USBAddress: 2},
		{Path: "/dev/hidraw0", VendorID: 0x1050, ProductID: 0x0407, Usages: []hid.Usage{{Page: 1, Usage: 6}}, USBBus: 1, USBAddress: 2},
		{Path: "/dev/hidraw5", VendorID: 0x1209, ProductID: 0x0001, Name: "keydesk lab keydesk softkey", Serial: "LAB0001", Usages: []hid.Usage{{Page: 0xf1d0, Usage: 1}}},
		{Path: "/dev/hidraw7", VendorID: 0x2581, ProductID: 0xf1d0, Name: "Plug-up Security Key", Usages: []hid.Usage{{Page: 0xf1d0, Usage: 1}}, USBBus: 3, USBAddress: 9},
	}
	probes := map[string]Probe{
		"/dev/hidraw1": {Info: hid.Info{Channel: 1, Protocol: 2, Major: 5, Minor: 4, Build: 3, Capabilities: hid.CapWink | hid.CapCBOR}},
		"/dev/hidraw5": {Err: errors.New("hid: no answer to INIT within 2s")},
	}
	rows := Merge(keys, nodes, probes)
	if len(rows) != 5 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	yk := rows[0]
	if yk.Path != "/dev/hidraw1" || yk.ID != "1050:0407" || !yk.Probed || !yk.U2F || !yk.CTAP2 || !yk.Wink || yk.DeviceVersion != "5.4.3" {
		t.Errorf("yubikey row %+v", yk)
	}
	titan := rows[1]
	if titan.Path != "" || titan.ID != "18d1:5026" || len(titan.Problems) != 2 || !strings.Contains(titan.Problems[1], "no hidraw node") {
		t.Errorf("titan row %+v", titan)
	}
	lab := rows[3]
	if lab.Path != "/dev/hidraw5" || lab.Manufacturer != "keydesk lab" || lab.Serial != "LAB0001" || lab.Probed ||
		len(lab.Problems) != 1 || !strings.Contains(lab.Problems[0], "no answer to INIT") {
		t.Errorf("lab row %+v", lab)
	}
	plugup := rows[4]
	if plugup.Path != "/dev/hidraw7" || plugup.Bus != 3 || plugup.Product != "Plug-up Security Key" || plugup.Model != "Happlink Security Key" {
		t.Errorf("node-only row %+v", plugup)
	}
	j, err := json.Marshal(rows)
	if err != nil || !strings.Contains(string(j), `"id":"1209:0001"`) || !strings.Contains(string(j), `"product":"keydesk softkey"`) {
		t.Errorf("json %s, %v", j, err)
	}
}

func TestMatchNodeByIDNeedsUnique(t *testing.T) {
	two := []Key{{Device: Device{VendorID: 1, ProductID: 2, Address: 1}}, {Device: Device{VendorID: 1, ProductID: 2, Address: 2}}}
	if i := matchNode(two, hid.DeviceInfo{VendorID: 1, ProductID: 2}); i != -1 {
		t.Errorf("matched %d of two identical keys", i)
	}
	if i := matchNode(two[:1], hid.DeviceInfo{VendorID: 1, ProductID: 2}); i != 0 {
		t.Errorf("one key: matched %d", i)
	}
}

func TestListWithTable(t *testing.T) {
	rows, err := List(context.Background(), ListOptions{Lister: parseTable(t, lsusb), NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	// This machine may have no hidraw nodes: every key is then listed
	// from USB alone.
	if len(rows) < 4 {
		t.Errorf("%d rows", len(rows))
	}
}

func TestPortName(t *testing.T) {
	for _, tt := range []struct {
		bus  int
		path []int
		want string
	}{{1, nil, "usb1"}, {1, []int{1}, "1-1"}, {2, []int{1, 4, 2}, "2-1.4.2"}} {
		if got := portName(tt.bus, tt.path); got != tt.want {
			t.Errorf("%d %v: %q, want %q", tt.bus, tt.path, got, tt.want)
		}
	}
}

func TestSysfs(t *testing.T) {
	sys := t.TempDir()
	dev := filepath.Join(sys, "bus", "usb", "devices")
	write := func(path string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dev, "1-1:1.0", "0003:1209:0001.0001", "report_descriptor"), hid.FIDODescriptor())
	write(filepath.Join(dev, "1-1:1.1", "0003:1209:0001.0002", "report_descriptor"), []byte{0xc0})
	write(filepath.Join(dev, "1-1", "manufacturer"), []byte("keydesk lab\n"))
	write(filepath.Join(dev, "1-1", "product"), []byte("keydesk softkey\n"))

	u, err := hidUsages(sys, "1-1", 0)
	if err != nil || len(u) != 1 || !u[0].IsFIDO() {
		t.Errorf("interface 0: %v, %v", u, err)
	}
	if _, err := hidUsages(sys, "1-1", 1); err == nil || !strings.Contains(err.Error(), "End Collection without Collection") {
		t.Errorf("interface 1: %v", err)
	}
	if _, err := hidUsages(sys, "1-1", 2); err == nil || !strings.Contains(err.Error(), "no report descriptor") {
		t.Errorf("interface 2: %v", err)
	}
	m, p, s, ok := sysfsStrings(sys, "1-1")
	if !ok || m != "keydesk lab" || p != "keydesk softkey" || s != "" {
		t.Errorf("strings %q %q %q %v", m, p, s, ok)
	}
	if _, _, _, ok := sysfsStrings(sys, "1-9"); ok {
		t.Error("strings of a device that is not there")
	}
}

// TestLibusbHere runs the real lister on this machine: it must not fail
// even where there is no USB at all (a container); the lab runs it for real.
func TestLibusbHere(t *testing.T) {
	devs, err := Libusb().Devices()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d USB devices here", len(devs))
}
