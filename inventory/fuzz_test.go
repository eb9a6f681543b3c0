package inventory_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/inventory"
)

// FuzzReadMasterKey: a key file is either exactly 32 bytes of hex, read
// back as such, or refused with an error naming the file and no key.
func FuzzReadMasterKey(f *testing.F) {
	f.Add([]byte(strings.Repeat("07", 32) + "\n"))
	f.Add([]byte(strings.Repeat("AB", 32)))
	f.Add([]byte("  " + strings.Repeat("0f", 32) + "\r\n\n"))
	f.Add([]byte(strings.Repeat("07", 31) + "\n"))
	f.Add([]byte(strings.Repeat("zz", 32) + "\n"))
	f.Add([]byte{})
	dir := f.TempDir()
	path := filepath.Join(dir, "master.key")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		key, err := inventory.ReadMasterKey(path)
		if err != nil {
			if key != nil {
				t.Errorf("error %v with a key", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if len(key) != inventory.MasterKeySize {
			t.Fatalf("key of %d bytes", len(key))
		}
		if !bytes.Contains(bytes.ToLower(content), []byte(strings.ToLower(hexString(key)))) {
			t.Errorf("key %x is not what %q holds", key, content)
		}
	})
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// FuzzParseState: the CLI's state names parse to one of the four states
// or are refused with the name quoted.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"stock", "assigned", "lost", "revoked", "in-stock", "LOST", "", "gone"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := inventory.ParseState(s)
		if err != nil {
			if st != "" {
				t.Errorf("error with state %q", st)
			}
			return
		}
		switch st {
		case inventory.InStock, inventory.Assigned, inventory.Lost, inventory.Revoked:
		default:
			t.Errorf("%q parsed to unknown state %q", s, st)
		}
	})
}
