package inventory_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/testclock"
	"github.com/keydesk/keydesk/internal/testfob"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
)

// clock is the fake clock tests pass through inventory.Options.Now.
type clock = testclock.Clock

func newClock() *clock { return testclock.At(time.Date(2025, 3, 14, 9, 26, 50, 0, time.UTC)) }

// testKey is a master key that is easy to tell apart from another.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, inventory.MasterKeySize) }

type fixture struct {
	s     *inventory.Store
	path  string
	key   []byte
	clock *clock
}

// newStore creates an inventory in a fresh folder; it is closed when the
// test ends.
func newStore(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{path: teststore.Path(t, t.TempDir(), "keydesk.db"), key: testKey(1), clock: newClock()}
	fx.s = fx.open(t, fx.key, true)
	return fx
}

// open opens the fixture's file with key; the store is closed when the
// test ends.
func (fx *fixture) open(t *testing.T, key []byte, create bool) *inventory.Store {
	t.Helper()
	s, err := inventory.Open(t.Context(), fx.path, key, inventory.Options{Create: create, Now: fx.clock.Now})
	if err != nil {
		t.Fatalf("open %s: %v", fx.path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen closes the fixture's store and opens the file again.
func (fx *fixture) reopen(t *testing.T, key []byte) {
	t.Helper()
	if err := fx.s.Close(); err != nil {
		t.Fatal(err)
	}
	fx.s = fx.open(t, key, false)
}

func (fx *fixture) update(t *testing.T, fn func(tx *inventory.Tx) error) {
	t.Helper()
	if err := fx.s.Update(t.Context(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// raw opens a second, independent connection to the fixture's
// database, the way someone tampering with it would.
func (fx *fixture) raw(t *testing.T) *teststore.DB { return teststore.Raw(t, fx.path) }

func mustExec(t *testing.T, db *teststore.DB, q string, args ...any) {
	t.Helper()
	db.Exec(t, q, args...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// filesContain reports whether the database file or its WAL holds needle;
// on PostgreSQL, whether any row of any table does, as text or bytes.
func filesContain(t *testing.T, path string, needle []byte) bool {
	t.Helper()
	if inventory.IsURL(path) {
		return rowsContain(t, teststore.Raw(t, path), needle)
	}
	for _, p := range []string{path, path + "-wal", path + "-journal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}

// makeReadOnly makes path unwritable for this process. Tests run as root
// here and in CI, and root ignores permission bits, so as root the file
// is made immutable (chattr +i, which needs CAP_LINUX_IMMUTABLE); as any
// other user chmod 0444 does. The test is skipped when neither works.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(path, 0o644) })
		return
	}
	out, err := exec.Command("chattr", "+i", path).CombinedOutput()
	if err != nil {
		t.Skipf("running as root and cannot make %s immutable (chattr +i: %v %s); no way to make it unwritable", path, err, out)
	}
	// t.TempDir's removal would fail on an immutable file.
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Fatalf("%s is still writable after chattr +i", path)
	}
}

// The fobs of these tests, each with its own seed.
var (
	hotpToken   = testfob.HOTP
	yubicoToken = testfob.Yubico
)

// contents is the inventory's file, or on PostgreSQL every row of every
// table as text.
func contents(t *testing.T, path string) []byte {
	t.Helper()
	if !inventory.IsURL(path) {
		return readFile(t, path)
	}
	var all []byte
	eachRow(t, teststore.Raw(t, path), func(row []byte) bool {
		all = append(append(all, row...), '\n')
		return true
	})
	return all
}

func rowsContain(t *testing.T, db *teststore.DB, needle []byte) bool {
	t.Helper()
	// A row as text shows bytea as \x and hex.
	hexNeedle := []byte(hex.EncodeToString(needle))
	found := false
	eachRow(t, db, func(row []byte) bool {
		found = bytes.Contains(row, needle) || bytes.Contains(row, hexNeedle)
		return !found
	})
	return found
}

// eachRow calls fn with each row of each table, in order, as text, while
// fn returns true.
func eachRow(t *testing.T, db *teststore.DB, fn func(row []byte) bool) {
	t.Helper()
	rows, err := db.Query(`SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	for _, table := range tables {
		rows, err := db.Query(`SELECT t::text FROM ` + table + ` t ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row []byte
			rows.Scan(&row)
			if !fn(row) {
				rows.Close()
				return
			}
		}
		rows.Close()
	}
}

func TestMain(m *testing.M) { os.Exit(teststore.Run(m)) }

// rawPG is a second connection to a PostgreSQL inventory.
func rawPG(t *testing.T, dbURL string) *teststore.DB { return teststore.Raw(t, dbURL) }
