package inventory_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
)

const auditEntries = 6

// auditedStore is an inventory with six audit entries, a minute apart.
func auditedStore(t *testing.T) *fixture {
	t.Helper()
	fx := newStore(t)
	for i := 1; i <= auditEntries; i++ {
		fx.update(t, func(tx *inventory.Tx) error {
			return tx.Audit("clerk", "fob assign", fmt.Sprintf("fob F-%d", i), fmt.Sprintf("to user%d", i))
		})
		fx.clock.Advance(time.Minute)
	}
	return fx
}

func TestVerifyAuditSound(t *testing.T) {
	fx := auditedStore(t)
	sum, err := fx.s.VerifyAudit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Entries != auditEntries || len(sum.HeadMAC) != 64 {
		t.Errorf("summary %+v", sum)
	}
	var got []inventory.AuditEntry
	err = fx.s.AuditLog(t.Context(), inventory.AuditFilter{Limit: 2}, func(e inventory.AuditEntry) error { got = append(got, e); return nil })
	if err != nil || len(got) != 2 || got[0].ID != 5 || got[1].ID != 6 {
		t.Fatalf("newest two entries: %+v, %v", got, err)
	}
	start := newClock().Now()
	if e := got[1]; e.Subject != "fob F-6" || e.Detail != "to user6" || e.Actor != "clerk" || !e.At.Equal(start.Add(5*time.Minute)) {
		t.Errorf("entry 6 reads back as %+v", e)
	}

	// An empty log verifies too.
	empty := newStore(t)
	if sum, err := empty.s.VerifyAudit(t.Context()); err != nil || sum.Entries != 0 {
		t.Errorf("empty log: %+v, %v", sum, err)
	}
}

// TestVerifyAuditFindsTampering changes the log through a second
// connection, as someone with the file but not the key would, and checks
// the entry VerifyAudit names.
func TestVerifyAuditFindsTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *teststore.DB)
		id     int64
		reason string
	}{
		{"detail changed", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `UPDATE audit SET detail = 'to mallory' WHERE id = 3`)
		}, 3, "MAC"},
		{"actor of the first entry changed", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `UPDATE audit SET actor = 'admin' WHERE id = 1`)
		}, 1, "MAC"},
		{"time changed", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `UPDATE audit SET at = at - 3600 WHERE id = 4`)
		}, 4, "MAC"},
		{"MAC of the last entry changed", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `UPDATE audit SET mac = ? WHERE id = 6`, make([]byte, 32))
		}, 6, "MAC"},
		{"middle entry deleted", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 3`)
		}, 3, "missing"},
		{"last entry deleted", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 6`)
		}, 6, "missing"},
		{"last two entries deleted", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id >= 5`)
		}, 5, "missing"},
		{"last two entries deleted and the head made to fit", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id >= 5`)
			var mac []byte
			db.QueryRow(`SELECT mac FROM audit WHERE id = 4`).Scan(&mac)
			var head []byte
			db.QueryRow(`SELECT value FROM meta WHERE name = 'audit_head'`).Scan(&head)
			// The old, unkeyed layout: the last MAC and the entry number.
			forged := append(mac, 0, 0, 0, 0, 0, 0, 0, 4)
			mustExec(t, db, `UPDATE meta SET value = ? WHERE name = 'audit_head'`, forged)
		}, 0, "older keydesk"},
		{"last two entries deleted and the head given a new id", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id >= 5`)
			var head []byte
			db.QueryRow(`SELECT value FROM meta WHERE name = 'audit_head'`).Scan(&head)
			head[8] = 4 // entry 6 → 4, tag kept
			mustExec(t, db, `UPDATE meta SET value = ? WHERE name = 'audit_head'`, head)
		}, 4, "altered"},
		{"the whole log and its head deleted", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `INSERT INTO users(name, created_at) VALUES ('ada', 0)`)
			mustExec(t, db, `DELETE FROM audit`)
			mustExec(t, db, `DELETE FROM meta WHERE name = 'audit_head'`)
		}, 0, "gone"},
		{"entry appended", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `INSERT INTO audit(id, at, actor, action, subject, detail, mac)
				SELECT 7, at, actor, action, subject, detail, mac FROM audit WHERE id = 6`)
		}, 7, "MAC"},
		{"entry inserted in the middle", func(t *testing.T, db *teststore.DB) {
			for id := auditEntries; id >= 4; id-- {
				mustExec(t, db, `UPDATE audit SET id = id + 1 WHERE id = ?`, id)
			}
			mustExec(t, db, `INSERT INTO audit(id, at, actor, action, subject, detail, mac)
				SELECT 4, at, actor, action, subject, 'forged', mac FROM audit WHERE id = 3`)
		}, 4, "MAC"},
		{"two entries swapped", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `UPDATE audit SET id = 100 WHERE id = 2`)
			mustExec(t, db, `UPDATE audit SET id = 2 WHERE id = 5`)
			mustExec(t, db, `UPDATE audit SET id = 5 WHERE id = 100`)
		}, 2, "MAC"},
		{"whole entries' contents swapped, MACs kept in place", func(t *testing.T, db *teststore.DB) {
			mustExec(t, db, `UPDATE audit SET subject = CASE id WHEN 2 THEN 'fob F-5' ELSE 'fob F-2' END,
				detail = CASE id WHEN 2 THEN 'to user5' ELSE 'to user2' END WHERE id IN (2, 5)`)
		}, 2, "MAC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := auditedStore(t)
			c.tamper(t, fx.raw(t))
			_, err := fx.s.VerifyAudit(t.Context())
			var ae *inventory.AuditError
			if !errors.As(err, &ae) {
				t.Fatalf("VerifyAudit: %v, want an *AuditError", err)
			}
			if ae.ID != c.id || !strings.Contains(ae.Reason, c.reason) {
				t.Errorf("found entry %d (%s), want entry %d (%s)", ae.ID, ae.Reason, c.id, c.reason)
			}
			if want := fmt.Sprintf("audit log entry %d: ", c.id); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start %q", err, want)
			}
		})
	}
}

// TestAuditChainContinuesAfterReopen: entries written in a later session
// chain onto the earlier ones.
func TestAuditChainContinuesAfterReopen(t *testing.T) {
	fx := auditedStore(t)
	fx.reopen(t, fx.key)
	fx.update(t, func(tx *inventory.Tx) error { return tx.Audit("clerk", "user add", "user x", "") })
	sum, err := fx.s.VerifyAudit(t.Context())
	if err != nil || sum.Entries != auditEntries+1 {
		t.Errorf("after reopening: %+v, %v", sum, err)
	}
	// An audit entry written by an update that fails is undone with it.
	err = fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
		if err := tx.Audit("clerk", "fob lost", "fob F-1", ""); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	if err == nil {
		t.Fatal("the failing update succeeded")
	}
	if sum, err := fx.s.VerifyAudit(t.Context()); err != nil || sum.Entries != auditEntries+1 {
		t.Errorf("after a failed update: %+v, %v", sum, err)
	}
}

// The head kept beside the master key catches what the database alone
// cannot: the whole file put back to an older copy, head and all. It is
// written after each commit, so it may lag the log (sound) but never lead
// it.
func TestAuditHeadFile(t *testing.T) {
	dir := t.TempDir()
	path, headFile := filepath.Join(dir, "keydesk.db"), filepath.Join(dir, "master.key.audit-head")
	clk := newClock()
	open := func() *inventory.Store {
		t.Helper()
		s, err := inventory.Open(t.Context(), path, testKey(1), inventory.Options{Create: true, Now: clk.Now, AuditHeadFile: headFile})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	audit := func(s *inventory.Store, n int) {
		t.Helper()
		for range n {
			if err := s.Update(t.Context(), func(tx *inventory.Tx) error { return tx.Audit("clerk", "user add", "user x", "") }); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := open()
	if sum, err := s.VerifyAudit(t.Context()); err != nil || sum.Warning != "" {
		t.Fatalf("a new inventory: %+v, %v", sum, err)
	}
	audit(s, 3)
	s.Close()
	old := readFile(t, path)
	oldHead := readFile(t, headFile)
	if !strings.Contains(string(oldHead), "entry 3\n") {
		t.Fatalf("head file after 3 entries:\n%s", oldHead)
	}

	s = open()
	audit(s, 2)
	if sum, err := s.VerifyAudit(t.Context()); err != nil || sum.Entries != 5 || sum.HeadFile != headFile {
		t.Fatalf("after 5 entries: %+v, %v", sum, err)
	}
	s.Close()

	// A head file behind the log is what a crash between the commit and
	// the file's write leaves: sound.
	newHead := readFile(t, headFile)
	os.WriteFile(headFile, oldHead, 0o600)
	s = open()
	if _, err := s.VerifyAudit(t.Context()); err != nil {
		t.Fatalf("head file behind the log: %v", err)
	}
	s.Close()

	// The database rolled back to the copy with 3 entries: its own head
	// agrees with it, the file does not.
	os.WriteFile(headFile, newHead, 0o600)
	os.WriteFile(path, old, 0o600)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	s = open()
	_, err := s.VerifyAudit(t.Context())
	var ae *inventory.AuditError
	if !errors.As(err, &ae) || ae.ID != 4 || !strings.Contains(err.Error(), "written up to entry 5") {
		t.Fatalf("rolled-back database: %v", err)
	}
	s.Close()

	// A head file that was edited does not verify.
	os.WriteFile(headFile, []byte(strings.Replace(string(newHead), "entry 5", "entry 2", 1)), 0o600)
	s = open()
	defer s.Close()
	if _, err := s.VerifyAudit(t.Context()); !errors.As(err, &ae) || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("edited head file: %v", err)
	}
	// No head file at all: a warning, not an alarm (a new machine).
	os.Remove(headFile)
	if sum, err := s.VerifyAudit(t.Context()); err != nil || !strings.Contains(sum.Warning, "no head is recorded outside the database") {
		t.Fatalf("no head file: %+v, %v", sum, err)
	}
}
