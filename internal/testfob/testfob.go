// Package testfob makes fobs and reads spec vectors for keydesk's tests:
// each fob gets its own seed, derived from its serial, so tests need no
// table of secrets.
package testfob

import (
	"bufio"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/fob"
)

// Seed is n bytes derived from name.
func Seed(name string, n int) []byte {
	var out []byte
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append([]byte(name), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// HOTP is an HOTP fob (SHA-1, 6 digits, counter 0) with its own seed.
func HOTP(serial string) fob.Token { return oath(serial, fob.HOTP) }

// TOTP is a TOTP fob (SHA-1, 6 digits, 30 s) with its own seed.
func TOTP(serial string) fob.Token { return oath(serial, fob.TOTP) }

func oath(serial string, kind fob.Kind) fob.Token {
	t := fob.Token{Serial: serial, Kind: kind, Secret: Seed(serial, 20)}
	t.Normalize()
	return t
}

// Yubico is a Yubico OTP fob with its own key and private id; publicID
// "" gives it one derived from the serial.
func Yubico(serial, publicID string) fob.Token {
	if publicID == "" {
		publicID = "vvcc" + fob.EncodeModhex(Seed("pub "+serial, 4))
	}
	return fob.Token{Serial: serial, Kind: fob.Yubico, Secret: Seed(serial, 16),
		PrivateID: Seed("priv "+serial, 6), PublicID: publicID}
}

// VectorRows returns the rows of a file in the repository's
// testdata/vectors, split into fields, without comments and the header row.
func VectorRows(t testing.TB, name string) [][]string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(here), "..", "..", "testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			rows = append(rows, strings.Fields(line))
		}
	}
	if err := sc.Err(); err != nil || len(rows) == 0 {
		t.Fatalf("%s: %d rows (%v)", name, len(rows), err)
	}
	return rows[1:]
}
