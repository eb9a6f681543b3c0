package inventory_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	_ "github.com/mattn/go-sqlite3"
)

func pragma(t *testing.T, db *teststore.DB, name string) string {
	t.Helper()
	teststore.SQLiteOnly(t)
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenCreatesAndMigrates(t *testing.T) {
	fx := newStore(t)
	fx.update(t, func(tx *inventory.Tx) error {
		_, err := tx.AddUser(inventory.User{Name: "ada"})
		return err
	})
	raw := fx.raw(t)
	if got, want := pragma(t, raw, "application_id"), "1801745259"; got != want { // 0x6b64736b, "kdsk"
		t.Errorf("application_id = %s, want %s", got, want)
	}
	if inventory.ApplicationID != 1801745259 {
		t.Errorf("ApplicationID = %d", inventory.ApplicationID)
	}
	if got := pragma(t, raw, "user_version"); got != strconv.Itoa(inventory.Migrations) {
		t.Errorf("user_version = %s, want %d", got, inventory.Migrations)
	}
	if got := pragma(t, raw, "journal_mode"); got != "wal" {
		t.Errorf("journal_mode = %s, want wal", got)
	}
	if fp := fx.s.MasterKeyFingerprint(); fp != inventory.Fingerprint(fx.key) || len(fp) != 16 {
		t.Errorf("fingerprint %q, want %q", fp, inventory.Fingerprint(fx.key))
	}

	// Reopening with the same key finds what was written.
	fx.reopen(t, fx.key)
	if _, err := fx.s.User(t.Context(), "ada"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

func TestOpenWithoutCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keydesk.db")
	_, err := inventory.Open(t.Context(), path, testKey(1), inventory.Options{})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("open of a missing file: %v, want an error naming %s", err, path)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open without Create made %s: %v", filepath.Dir(path), err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	fx := newStore(t)
	fx.s.Close()
	before := contents(t, fx.path)
	wrong := testKey(2)
	s, err := inventory.Open(t.Context(), fx.path, wrong, inventory.Options{})
	if err == nil {
		s.Close()
		t.Fatal("opened with the wrong master key")
	}
	if !errors.Is(err, inventory.ErrWrongKey) {
		t.Errorf("error %v does not wrap ErrWrongKey", err)
	}
	for _, fp := range []string{inventory.Fingerprint(fx.key), inventory.Fingerprint(wrong)} {
		if !strings.Contains(err.Error(), fp) {
			t.Errorf("error %q does not name fingerprint %s", err, fp)
		}
	}
	if !bytes.Equal(before, contents(t, fx.path)) {
		t.Error("a refused open changed the inventory")
	}
	if _, err := inventory.Open(t.Context(), fx.path, testKey(1)[:31], inventory.Options{}); err == nil {
		t.Error("opened with a 31-byte key")
	}
}

// TestOpenRefusesForeignFiles checks that files keydesk must not touch are
// refused with the right sentinel and left byte for byte as they were.
func TestOpenRefusesForeignFiles(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, path string)
		want error
	}{
		{"text file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("serial,secret\n", 400)), 0o600)
		}, inventory.ErrNotInventory},
		{"another program's SQLite", func(t *testing.T, path string) {
			db := sqliteFile(t, path)
			mustExec(t, db, "CREATE TABLE songs(title TEXT)")
			mustExec(t, db, "INSERT INTO songs VALUES ('so what')")
			db.Close()
		}, inventory.ErrNotInventory},
		{"SQLite with another application id", func(t *testing.T, path string) {
			db := sqliteFile(t, path)
			mustExec(t, db, "PRAGMA application_id = 1234")
			db.Close()
		}, inventory.ErrNotInventory},
		{"inventory from a newer keydesk", func(t *testing.T, path string) {
			s, err := inventory.Open(t.Context(), path, testKey(1), inventory.Options{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			db := sqliteFile(t, path)
			mustExec(t, db, "PRAGMA user_version = 99")
			db.Close()
		}, inventory.ErrNewerSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "file.db")
			c.make(t, path)
			before := readFile(t, path)
			s, err := inventory.Open(t.Context(), path, testKey(1), inventory.Options{Create: true})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("error %q does not wrap %q", err, c.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !bytes.Equal(before, readFile(t, path)) {
				t.Error("the refused file was changed")
			}
		})
	}
}

func sqliteFile(t *testing.T, path string) *teststore.DB {
	t.Helper()
	teststore.SQLiteOnly(t)
	return teststore.Raw(t, path)
}

func TestOpenReadOnly(t *testing.T) {
	fx := newStore(t)
	fx.update(t, func(tx *inventory.Tx) error {
		if err := tx.AddFob(hotpToken("RO-1"), 0, 0); err != nil {
			return err
		}
		return tx.Audit("clerk", "fob add", "fob RO-1", "")
	})
	fx.s.Close()
	makeReadOnly(t, fx.path)
	before := readFile(t, fx.path)

	s := fx.open(t, fx.key, false)
	if _, err := s.Fob(t.Context(), "RO-1"); err != nil {
		t.Errorf("read from a read-only inventory: %v", err)
	}
	if sum, err := s.VerifyAudit(t.Context()); err != nil || sum.Entries != 1 {
		t.Errorf("VerifyAudit on a read-only inventory: %+v, %v", sum, err)
	}
	err := s.Update(t.Context(), func(tx *inventory.Tx) error {
		t.Error("an update ran on a read-only inventory")
		return nil
	})
	if !errors.Is(err, inventory.ErrReadOnly) {
		t.Errorf("update: %v, want ErrReadOnly", err)
	}
	if err := s.Rekey(t.Context(), testKey(3), "admin"); !errors.Is(err, inventory.ErrReadOnly) {
		t.Errorf("rekey: %v, want ErrReadOnly", err)
	}
	s.Close()
	if !bytes.Equal(before, readFile(t, fx.path)) {
		t.Error("the read-only file was changed")
	}
}

// TestOpenReadOnlyNeedsMigration: a file that is ours but at an older
// schema cannot be upgraded when it is not writable.
func TestOpenReadOnlyNeedsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db := sqliteFile(t, path)
	mustExec(t, db, "PRAGMA application_id = 1801745259")
	db.Close()
	makeReadOnly(t, path)
	s, err := inventory.Open(t.Context(), path, testKey(1), inventory.Options{})
	if err == nil {
		s.Close()
		t.Fatal("opened")
	}
	if !errors.Is(err, inventory.ErrReadOnly) || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("error %q, want ErrReadOnly saying it needs an upgrade", err)
	}
}

func TestMasterKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config", "keydesk")
	path := filepath.Join(dir, "master.key")
	key := testKey(7)
	if err := inventory.WriteMasterKey(path, key); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm()&0o077 != 0 {
		t.Errorf("key folder mode %04o, open to group or others", di.Mode().Perm())
	}
	if got := string(readFile(t, path)); got != strings.Repeat("07", 32)+"\n" {
		t.Errorf("key file holds %q", got)
	}
	got, err := inventory.ReadMasterKey(path)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("ReadMasterKey = %x, %v", got, err)
	}

	// A second write must not replace the key that seals the inventory.
	if err := inventory.WriteMasterKey(path, testKey(8)); !errors.Is(err, fs.ErrExist) {
		t.Errorf("overwrite: %v, want fs.ErrExist", err)
	}
	if got, _ := inventory.ReadMasterKey(path); !bytes.Equal(got, key) {
		t.Error("a refused overwrite changed the key")
	}

	for _, mode := range []fs.FileMode{0o640, 0o604, 0o644, 0o660} {
		os.Chmod(path, mode)
		_, err := inventory.ReadMasterKey(path)
		if err == nil {
			t.Errorf("mode %04o: read a key others can read", mode)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: error %q does not say how to fix it", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := inventory.ReadMasterKey(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestReadMasterKeyRefusesBadContent(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"short":    strings.Repeat("ab", 31) + "\n",
		"long":     strings.Repeat("ab", 33) + "\n",
		"not hex":  strings.Repeat("zz", 32) + "\n",
		"empty":    "",
		"two keys": strings.Repeat("ab", 32) + "\n" + strings.Repeat("cd", 32) + "\n",
		"huge":     strings.Repeat("ab", 1<<20),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		key, err := inventory.ReadMasterKey(path)
		if err == nil || key != nil {
			t.Errorf("%s: read %x, %v", name, key, err)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		if name == "huge" && !strings.Contains(err.Error(), "longer than") {
			t.Errorf("huge: error %q does not say the file is too long", err)
		}
	}
	// A FIFO would block a plain read forever.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.ReadMasterKey(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	if _, err := inventory.ReadMasterKey(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestNewMasterKey(t *testing.T) {
	k, err := inventory.NewMasterKey(bytes.NewReader(testKey(9)))
	if err != nil || !bytes.Equal(k, testKey(9)) {
		t.Errorf("NewMasterKey = %x, %v", k, err)
	}
	if _, err := inventory.NewMasterKey(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("NewMasterKey made a key from 10 bytes of randomness")
	}
	if inventory.Fingerprint(testKey(1)) == inventory.Fingerprint(testKey(2)) {
		t.Error("two keys share a fingerprint")
	}
}

// An inventory of an older keydesk migrates on open: everything stored
// keeps working, and its audit head becomes authenticated, once, after
// the chain verified.
func TestMigrateFromVersion2(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v2.db")
	if err := os.WriteFile(path, readFile(t, "../testdata/inventories/v2.db"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := readFile(t, "../testdata/inventories/v2.key")
	os.WriteFile(filepath.Join(dir, "v2.key"), key, 0o600)
	master, err := inventory.ReadMasterKey(filepath.Join(dir, "v2.key"))
	if err != nil {
		t.Fatal(err)
	}
	// The file's bypass code was made at 09:19 UTC on 2026-12-01 and
	// lasts an hour: the test runs at a time it is live.
	at := func() time.Time { return time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC) }
	s, err := inventory.Open(t.Context(), path, master, inventory.Options{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := pragma(t, sqliteFile(t, path), "user_version"); v == "2" {
		t.Fatalf("schema still at version %s", v)
	}
	sum, err := s.VerifyAudit(t.Context())
	if err != nil || sum.Entries != 5 {
		t.Fatalf("the migrated log: %+v, %v", sum, err)
	}
	u, err := s.User(t.Context(), "ALICE")
	if err != nil || u.FullName != "Alice Liddell" {
		t.Fatalf("alice after the migration: %+v, %v", u, err)
	}
	code := strings.TrimSpace(string(readFile(t, "../testdata/inventories/v2.bypass")))
	err = s.Update(t.Context(), func(tx *inventory.Tx) error {
		c, found, err := tx.FindBypassCode(u.ID, code)
		if err != nil || !found || c.State(tx.Now()) != inventory.BypassLive || c.UsesLeft != 2 {
			return fmt.Errorf("bypass code of version 2: %+v found %v: %v", c, found, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Fob(t.Context(), "F1")
	if err != nil || f.User != "alice" {
		t.Fatalf("fob F1: %+v, %v", f, err)
	}
	apps, err := s.Applications(t.Context())
	if err != nil || len(apps) != 1 || apps[0].DetailedReasons || apps[0].RADIUSMode != "" {
		t.Fatalf("applications: %+v, %v", apps, err)
	}
	// The fob stored before seeds were hashed has its hash now: the same
	// seed on a new fob is found.
	err = s.Update(t.Context(), func(tx *inventory.Tx) error {
		twins, err := tx.FobsWithSeed([]byte("12345678901234567890"))
		if err != nil || len(twins) != 1 || twins[0] != "F1" {
			return fmt.Errorf("fobs with F1's seed: %v, %v", twins, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A new inventory, its WAL and its shared-memory file are readable by
// their owner only, whatever the umask.
func TestNewInventoryIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	fx := newStore(t)
	teststore.SQLiteOnly(t)
	fx.update(t, func(tx *inventory.Tx) error { return tx.Audit("clerk", "test", "x", "") })
	for _, p := range []string{fx.path, fx.path + "-wal", fx.path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}
