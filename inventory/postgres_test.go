package inventory_test

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/pgtest"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
)

// These tests are of the PostgreSQL store itself, whatever store the run
// keeps the other tests' inventories on: several servers on one database,
// and a database that is another program's, read-only, or down.

// pgOpen opens url as a server would, on the fixture clock.
func pgOpen(t *testing.T, dbURL string, key []byte, create bool) *inventory.Store {
	t.Helper()
	s, err := inventory.Open(t.Context(), dbURL, key, inventory.Options{Create: create, Now: newClock().Now})
	if err != nil {
		t.Fatalf("open %s: %v", inventory.Where(dbURL), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func password(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := u.User.Password()
	if p == "" {
		t.Fatal("the test URL has no password")
	}
	return p
}

func TestPostgresCreatesAndMigrates(t *testing.T) {
	c := pgtest.Shared(t)
	dbURL := c.NewDatabase(t)
	if inventory.Exists(dbURL) {
		t.Fatal("an empty database holds an inventory")
	}
	if _, err := inventory.Open(t.Context(), dbURL, testKey(1), inventory.Options{}); err == nil || !strings.Contains(err.Error(), "no inventory") {
		t.Fatalf("open of an empty database without create: %v", err)
	}
	s := pgOpen(t, dbURL, testKey(1), true)
	if s.Kind() != "postgresql" || !inventory.Exists(dbURL) {
		t.Fatalf("kind %s, exists %v", s.Kind(), inventory.Exists(dbURL))
	}
	if strings.Contains(s.Path(), password(t, dbURL)) {
		t.Errorf("Path %s shows the password", s.Path())
	}
	var app, version int
	raw := rawPG(t, dbURL)
	if err := raw.QueryRow(`SELECT application_id, version FROM keydesk_schema`).Scan(&app, &version); err != nil {
		t.Fatal(err)
	}
	if app != 0x6b64736b || version != inventory.Migrations {
		t.Errorf("schema row: application %#x version %d, want %#x %d", app, version, 0x6b64736b, inventory.Migrations)
	}
	fp, err := inventory.SealedFingerprint(t.Context(), dbURL)
	if err != nil || fp != inventory.Fingerprint(testKey(1)) {
		t.Errorf("sealed fingerprint %q, %v", fp, err)
	}
	s.Close()
	if _, err := inventory.Open(t.Context(), dbURL, testKey(2), inventory.Options{}); !errors.Is(err, inventory.ErrWrongKey) ||
		strings.Contains(err.Error(), password(t, dbURL)) {
		t.Errorf("open with another key: %v", err)
	}
}

// Servers that start together on a new database migrate it once, and all
// end up with the same keyed-hash key: a bypass code one adds, another
// finds.
func TestPostgresServersStartTogether(t *testing.T) {
	dbURL := pgtest.Shared(t).NewDatabase(t)
	stores := make([]*inventory.Store, 4)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = inventory.Open(t.Context(), dbURL, testKey(1), inventory.Options{Create: true, Now: newClock().Now})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	var id int64
	err := stores[0].Update(t.Context(), func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: "alice"})
		if err != nil {
			return err
		}
		id = u.ID
		_, err = tx.AddBypassCode(u.ID, "12345678", 1, tx.Now().Add(3600e9), "clerk")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stores[1:] {
		err := s.Update(t.Context(), func(tx *inventory.Tx) error {
			_, found, err := tx.FindBypassCode(id, "12345678")
			if err == nil && !found {
				err = errors.New("not found")
			}
			return err
		})
		if err != nil {
			t.Errorf("server %d: the bypass code of server 0: %v", i+1, err)
		}
	}
}

func TestPostgresRefusesOthersDatabases(t *testing.T) {
	c := pgtest.Shared(t)
	for _, tc := range []struct {
		name, sql string
		want      error
	}{
		{"another program's tables", `CREATE TABLE orders (id int)`, inventory.ErrNotInventory},
		{"another program's schema row", `CREATE TABLE keydesk_schema (one boolean PRIMARY KEY, application_id bigint, version integer);
			INSERT INTO keydesk_schema VALUES (true, 42, 1)`, inventory.ErrNotInventory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := c.NewDatabase(t)
			raw := rawPG(t, dbURL)
			raw.Exec(t, tc.sql)
			_, err := inventory.Open(t.Context(), dbURL, testKey(1), inventory.Options{Create: true})
			if !errors.Is(err, tc.want) {
				t.Fatalf("open: %v, want %v", err, tc.want)
			}
			var tables int
			raw.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables)
			if tables != 1 {
				t.Errorf("the refused open left %d tables, want the 1 it found", tables)
			}
		})
	}
	t.Run("newer keydesk", func(t *testing.T) {
		dbURL := c.NewDatabase(t)
		pgOpen(t, dbURL, testKey(1), true).Close()
		rawPG(t, dbURL).Exec(t, `UPDATE keydesk_schema SET version = version + 1`)
		if _, err := inventory.Open(t.Context(), dbURL, testKey(1), inventory.Options{}); !errors.Is(err, inventory.ErrNewerSchema) {
			t.Fatalf("open: %v, want ErrNewerSchema", err)
		}
	})
}

func TestPostgresReadOnly(t *testing.T) {
	c := pgtest.Shared(t)
	dbURL := c.NewDatabase(t)
	s := pgOpen(t, dbURL, testKey(1), true)
	if err := s.Update(t.Context(), func(tx *inventory.Tx) error {
		_, err := tx.AddUser(inventory.User{Name: "alice"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	u, _ := url.Parse(dbURL)
	c.Exec(t, dbURL, `ALTER DATABASE `+strings.TrimPrefix(u.Path, "/")+` SET default_transaction_read_only = on`)
	ro := pgOpen(t, dbURL, testKey(1), false)
	if _, err := ro.User(t.Context(), "alice"); err != nil {
		t.Errorf("read of a read-only inventory: %v", err)
	}
	err := ro.Update(t.Context(), func(tx *inventory.Tx) error { return nil })
	if !errors.Is(err, inventory.ErrReadOnly) {
		t.Errorf("update of a read-only inventory: %v, want ErrReadOnly", err)
	}
}

// A wrong password and a server that is not there are errors that say
// what to check, and never show the password.
func TestPostgresCannotConnect(t *testing.T) {
	c := pgtest.Shared(t)
	dbURL := c.NewDatabase(t)
	pw := password(t, dbURL)
	wrong := strings.Replace(dbURL, pw, "not-"+pw, 1)
	_, err := inventory.Open(t.Context(), wrong, testKey(1), inventory.Options{Create: true})
	if err == nil || !strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), pw) {
		t.Errorf("wrong password: %v", err)
	}
	if ok, err := inventory.Probe(t.Context(), wrong); ok || err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("probe with a wrong password: %v, %v", ok, err)
	}
	gone := fmt.Sprintf("postgres://keydesk:%s@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", pw)
	_, err = inventory.Open(t.Context(), gone, testKey(1), inventory.Options{Create: true})
	if err == nil || !strings.Contains(err.Error(), "cannot reach") || strings.Contains(err.Error(), pw) {
		t.Errorf("no server: %v", err)
	}
}

// "Alice" and "alice" added at once by two servers: one is added, the
// other told the name is taken. One SQLite writer never races itself;
// two servers do, and the database's unique index decides.
func TestPostgresNamesRaceAcrossServers(t *testing.T) {
	dbURL := pgtest.Shared(t).NewDatabase(t)
	a, b := pgOpen(t, dbURL, testKey(1), true), pgOpen(t, dbURL, testKey(1), false)
	for round := range 20 {
		names := []string{fmt.Sprintf("Alice%d", round), fmt.Sprintf("alice%d", round)}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, s := range []*inventory.Store{a, b} {
			wg.Go(func() {
				errs[i] = s.Update(t.Context(), func(tx *inventory.Tx) error {
					_, err := tx.AddUser(inventory.User{Name: names[i]})
					return err
				})
			})
		}
		wg.Wait()
		added := 0
		for _, err := range errs {
			switch {
			case err == nil:
				added++
			case !errors.Is(err, inventory.ErrExists):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if added != 1 {
			t.Fatalf("round %d: %d of %q added, want 1", round, added, names)
		}
	}
}

// Entries written by two servers at once form one chain: each takes the
// head in turn.
func TestPostgresAuditAcrossServers(t *testing.T) {
	dbURL := pgtest.Shared(t).NewDatabase(t)
	servers := []*inventory.Store{pgOpen(t, dbURL, testKey(1), true), pgOpen(t, dbURL, testKey(1), false)}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			err := servers[i%2].Update(t.Context(), func(tx *inventory.Tx) error {
				return tx.Audit("clerk", "test", fmt.Sprintf("entry %d", i), "")
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, s := range servers {
		sum, err := s.VerifyAudit(t.Context())
		if err != nil || sum.Entries != 64 {
			t.Errorf("server %d: %+v, %v", i, sum, err)
		}
	}
}

// A rekey on one server stops the others from sealing or auditing under
// the old key: they refuse, and the inventory stays sound under the new
// one.
func TestPostgresRekeyStopsOtherServers(t *testing.T) {
	dbURL := pgtest.Shared(t).NewDatabase(t)
	a, b := pgOpen(t, dbURL, testKey(1), true), pgOpen(t, dbURL, testKey(1), false)
	add := func(s *inventory.Store, serial string) error {
		return s.Update(t.Context(), func(tx *inventory.Tx) error { return tx.AddFob(hotpToken(serial), 0, 0) })
	}
	if err := add(b, "B1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Rekey(t.Context(), testKey(2), "admin"); err != nil {
		t.Fatal(err)
	}
	if err := add(b, "B2"); !errors.Is(err, inventory.ErrWrongKey) {
		t.Errorf("a fob sealed by a server with the old key: %v, want ErrWrongKey", err)
	}
	err := b.Update(t.Context(), func(tx *inventory.Tx) error { return tx.Audit("clerk", "test", "x", "") })
	if !errors.Is(err, inventory.ErrWrongKey) {
		t.Errorf("an entry MACed by a server with the old key: %v, want ErrWrongKey", err)
	}
	if err := add(a, "A1"); err != nil {
		t.Fatal(err)
	}
	c := pgOpen(t, dbURL, testKey(2), false)
	if sum, err := c.VerifyAudit(t.Context()); err != nil {
		t.Errorf("audit after the rekey: %+v, %v", sum, err)
	}
	for _, serial := range []string{"B1", "A1"} {
		err := c.Update(t.Context(), func(tx *inventory.Tx) error {
			f, err := tx.Fob(serial)
			if err == nil && len(f.Token.Secret) == 0 {
				err = errors.New("no secret")
			}
			return err
		})
		if err != nil {
			t.Errorf("fob %s under the new key: %v", serial, err)
		}
	}
}

// The database going away fails updates, never half-applies them, and
// the same store serves again once it is back.
func TestPostgresOutage(t *testing.T) {
	c := pgtest.Start(t)
	dbURL := c.NewDatabase(t)
	s := pgOpen(t, dbURL, testKey(1), true)
	addFob := func(serial string) error {
		return s.Update(t.Context(), func(tx *inventory.Tx) error { return tx.AddFob(hotpToken(serial), 0, 0) })
	}
	if err := addFob("F1"); err != nil {
		t.Fatal(err)
	}
	c.Kill(t)
	if err := addFob("F2"); err == nil {
		t.Fatal("an update succeeded with the database down")
	}
	if _, err := s.Fob(t.Context(), "F1"); err == nil || errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("read with the database down: %v, want an error that is not 'not found'", err)
	}
	c.Restart(t)
	var err error
	for range 4 { // a pooled connection that died is found out once
		if err = addFob("F3"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	for serial, want := range map[string]bool{"F1": true, "F2": false, "F3": true} {
		_, err := s.Fob(t.Context(), serial)
		if got := err == nil; got != want {
			t.Errorf("fob %s stored: %v, want %v (%v)", serial, got, want, err)
		}
	}
}

// TestPostgresLargeCounter: the largest HOTP counter a fob may have
// survives the round trip.
func TestPostgresLargeCounter(t *testing.T) {
	dbURL := pgtest.Shared(t).NewDatabase(t)
	s := pgOpen(t, dbURL, testKey(1), true)
	tok := hotpToken("BIG")
	tok.Counter = 1<<63 - 2
	err := s.Update(t.Context(), func(tx *inventory.Tx) error { return tx.AddFob(tok, 0, 0) })
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Fob(t.Context(), "BIG")
	if err != nil || f.Token.Counter != 1<<63-2 || f.Token.Kind != fob.HOTP {
		t.Fatalf("fob BIG: counter %d, %v", f.Token.Counter, err)
	}
}

// An SQLite inventory copied into PostgreSQL opens there with the same
// key, holds the same rows, and its audit chain verifies; a second copy
// into the same database is refused.
func TestCopyIntoPostgres(t *testing.T) {
	teststore.SQLiteOnly(t)
	fx := newStore(t)
	fx.update(t, func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: "alice", FullName: "Alice Liddell"})
		if err != nil {
			return err
		}
		for _, tok := range []fob.Token{hotpToken("C1"), yubicoToken("C2", "")} {
			if err := tx.AddFob(tok, 0, u.ID); err != nil {
				return err
			}
		}
		if _, err := tx.AddBypassCode(u.ID, "87654321", 2, tx.Now().Add(3600e9), "clerk"); err != nil {
			return err
		}
		return tx.Audit("clerk", "assign", "user alice", "two fobs")
	})
	dbURL := pgtest.Shared(t).NewDatabase(t)
	rep, err := inventory.CopyInto(t.Context(), fx.s, dbURL, fx.key)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Audit.Entries != 1 || strings.Contains(rep.To, password(t, dbURL)) {
		t.Errorf("report %+v", rep)
	}
	rows := map[string]int64{}
	for _, tb := range rep.Tables {
		rows[tb.Name] = tb.Rows
	}
	if rows["fobs"] != 2 || rows["users"] != 1 || rows["bypass_codes"] != 1 || rows["audit"] != 1 {
		t.Errorf("rows copied: %v", rows)
	}
	s := pgOpen(t, dbURL, fx.key, false)
	err = s.Update(t.Context(), func(tx *inventory.Tx) error {
		f, err := tx.Fob("C2")
		if err != nil || len(f.Token.PrivateID) == 0 || f.User != "alice" {
			return fmt.Errorf("fob C2 in the copy: %+v, %v", f, err)
		}
		u, err := tx.User("ALICE")
		if err != nil {
			return err
		}
		if _, found, err := tx.FindBypassCode(u.ID, "87654321"); err != nil || !found {
			return fmt.Errorf("the bypass code in the copy: %v, %v", found, err)
		}
		// New rows take ids after the copied ones.
		_, err = tx.AddUser(inventory.User{Name: "bob"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.CopyInto(t.Context(), fx.s, dbURL, fx.key); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("a second copy into the same database: %v", err)
	}
}

// And back: a PostgreSQL inventory copied into a new SQLite file opens
// there with the same key and verifies; a copy that fails leaves no file.
func TestCopyIntoSQLite(t *testing.T) {
	dbURL := pgtest.Shared(t).NewDatabase(t)
	s := pgOpen(t, dbURL, testKey(1), true)
	err := s.Update(t.Context(), func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: "dora"})
		if err != nil {
			return err
		}
		if err := tx.AddFob(hotpToken("P1"), 0, u.ID); err != nil {
			return err
		}
		return tx.Audit("clerk", "assign", "user dora", "")
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "back.db")
	rep, err := inventory.CopyInto(t.Context(), s, path, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	back, err := inventory.Open(t.Context(), path, testKey(1), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if f, err := back.Fob(t.Context(), "P1"); err != nil || f.User != "dora" {
		t.Errorf("fob P1 in the file: %+v, %v", f, err)
	}
	if sum, err := back.VerifyAudit(t.Context()); err != nil || sum.Entries != rep.Audit.Entries || sum.Entries == 0 {
		t.Errorf("audit of the file: %+v, %v (copied %+v)", sum, err, rep.Audit)
	}
	// With the wrong key the copy is refused, and no file is left.
	other := filepath.Join(t.TempDir(), "other.db")
	if _, err := inventory.CopyInto(t.Context(), s, other, testKey(2)); err == nil {
		t.Error("copied under a key that does not open the inventory")
	}
	if inventory.Exists(other) {
		t.Error("a failed copy left its file")
	}
}
