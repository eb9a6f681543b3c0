package hid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSysfs builds the part of /sys that scanSysfs reads, as Linux lays it
// out for a USB key: the hidraw class link into the HID device, inside the
// USB interface, inside the USB device.
func fakeSysfs(t *testing.T, nodes map[string]fakeNode) string {
	root := t.TempDir()
	class := filepath.Join(root, "class", "hidraw")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(class, 0o755))
	for name, n := range nodes {
		usb := filepath.Join(root, "devices", "usb1", n.port)
		intf := filepath.Join(usb, n.port+":1.0")
		hidDev := filepath.Join(intf, "0003:"+n.id+".0001")
		must(os.MkdirAll(filepath.Join(hidDev, "hidraw", name), 0o755))
		must(os.WriteFile(filepath.Join(usb, "busnum"), []byte("1\n"), 0o644))
		must(os.WriteFile(filepath.Join(usb, "devnum"), []byte(n.devnum+"\n"), 0o644))
		must(os.WriteFile(filepath.Join(intf, "bInterfaceNumber"), []byte("00\n"), 0o644))
		must(os.WriteFile(filepath.Join(hidDev, "report_descriptor"), n.desc, 0o644))
		must(os.WriteFile(filepath.Join(hidDev, "uevent"), []byte(n.uevent), 0o644))
		must(os.Symlink(filepath.Join(hidDev, "hidraw", name), filepath.Join(class, name)))
		must(os.Symlink(hidDev, filepath.Join(hidDev, "hidraw", name, "device")))
	}
	return root
}

type fakeNode struct {
	port, id, devnum string
	desc             []byte
	uevent           string
}

func TestScanSysfs(t *testing.T) {
	root := fakeSysfs(t, map[string]fakeNode{
		"hidraw0": {"1-1", "1209:0001", "2", FIDODescriptor(),
			"DRIVER=hid-generic\nHID_ID=0003:00001209:00000001\nHID_NAME=keydesk lab keydesk softkey\nHID_PHYS=usb-dummy_hcd.0-1/input0\nHID_UNIQ=LAB0001\n"},
		"hidraw10": {"1-2", "046d:c31c", "3", bootKeyboard,
			"HID_ID=0003:0000046D:0000C31C\nHID_NAME=Logitech USB Keyboard\n"},
		"hidraw2": {"1-3", "1050:0407", "4", []byte{0xc0}, "HID_ID=0003:00001050:00000407\n"},
	})
	infos, err := scanSysfs(root, "/dev")
	if err == nil || !strings.Contains(err.Error(), "hidraw2: hid: report descriptor, byte 0: End Collection without Collection") {
		t.Errorf("error %v", err)
	}
	if len(infos) != 2 || infos[0].Path != "/dev/hidraw0" || infos[1].Path != "/dev/hidraw10" {
		t.Fatalf("infos %+v", infos)
	}
	key := infos[0]
	if !key.IsFIDO() || key.VendorID != 0x1209 || key.ProductID != 1 || key.Serial != "LAB0001" ||
		key.Name != "keydesk lab keydesk softkey" || key.USBBus != 1 || key.USBAddress != 2 {
		t.Errorf("key %+v", key)
	}
	if infos[1].IsFIDO() || infos[1].VendorID != 0x046d {
		t.Errorf("keyboard %+v", infos[1])
	}

	if infos, err := scanSysfs(t.TempDir(), "/dev"); infos != nil || err != nil {
		t.Errorf("no hidraw class: %v, %v", infos, err)
	}
}

func TestScanSysfsBadUevent(t *testing.T) {
	root := fakeSysfs(t, map[string]fakeNode{
		"hidraw0": {"1-1", "1209:0001", "2", FIDODescriptor(), "HID_ID=0003:zz:00000001\n"},
	})
	if _, err := scanSysfs(root, "/dev"); err == nil || !strings.Contains(err.Error(), `uevent line 1: HID_ID "0003:zz:00000001" has a bad vendor`) {
		t.Errorf("got %v", err)
	}
}

func FuzzParseUevent(f *testing.F) {
	f.Add([]byte("DRIVER=hid-generic\nHID_ID=0003:00001209:00000001\nHID_NAME=keydesk lab keydesk softkey\nHID_PHYS=usb-dummy_hcd.0-1/input0\nHID_UNIQ=LAB0001\nMODALIAS=hid:b0003g0001v00001209p00000001\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var info DeviceInfo
		if err := parseUevent(b, &info); err == nil && info.VendorID != 0 && !strings.Contains(string(b), "HID_ID=") {
			t.Fatal("vendor id from nowhere")
		}
	})
}
