package sysfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCappedAndInt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if b, err := ReadCapped(write("ok", "1234"), 4); err != nil || string(b) != "1234" {
		t.Errorf("at the cap: %q %v", b, err)
	}
	if _, err := ReadCapped(write("long", "12345"), 4); err == nil || !strings.Contains(err.Error(), "longer than 4 bytes") {
		t.Errorf("over the cap: %v", err)
	}
	if n, err := ReadInt(write("busnum", "003\n"), 10); err != nil || n != 3 {
		t.Errorf("decimal: %d %v", n, err)
	}
	if n, err := ReadInt(write("idVendor", "1050\n"), 16); err != nil || n != 0x1050 {
		t.Errorf("hex: %d %v", n, err)
	}
	if _, err := ReadInt(write("bad", "x1\n"), 10); err == nil {
		t.Error("not a number accepted")
	}
	if _, err := ReadCapped(filepath.Join(dir, "missing"), 4); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
