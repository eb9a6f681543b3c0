package inventory_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
	err = fx.s.AuditLog(t.Context(), 2, func(e inventory.AuditEntry) error { got = append(got, e); return nil })
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
		tamper func(t *testing.T, db *sql.DB)
		id     int64
		reason string
	}{
		{"detail changed", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET detail = 'to mallory' WHERE id = 3`)
		}, 3, "MAC"},
		{"actor of the first entry changed", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET actor = 'admin' WHERE id = 1`)
		}, 1, "MAC"},
		{"time changed", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET at = at - 3600 WHERE id = 4`)
		}, 4, "MAC"},
		{"MAC of the last entry changed", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET mac = zeroblob(32) WHERE id = 6`)
		}, 6, "MAC"},
		{"middle entry deleted", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 3`)
		}, 3, "missing"},
		{"last entry deleted", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 6`)
		}, 6, "missing"},
		{"last two entries deleted", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE id >= 5`)
		}, 6, "missing"},
		{"entry appended", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `INSERT INTO audit(id, at, actor, action, subject, detail, mac)
				SELECT 7, at, actor, action, subject, detail, mac FROM audit WHERE id = 6`)
		}, 7, "MAC"},
		{"entry inserted in the middle", func(t *testing.T, db *sql.DB) {
			for id := auditEntries; id >= 4; id-- {
				mustExec(t, db, `UPDATE audit SET id = id + 1 WHERE id = ?`, id)
			}
			mustExec(t, db, `INSERT INTO audit(id, at, actor, action, subject, detail, mac)
				SELECT 4, at, actor, action, subject, 'forged', mac FROM audit WHERE id = 3`)
		}, 4, "MAC"},
		{"two entries swapped", func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET id = 100 WHERE id = 2`)
			mustExec(t, db, `UPDATE audit SET id = 2 WHERE id = 5`)
			mustExec(t, db, `UPDATE audit SET id = 5 WHERE id = 100`)
		}, 2, "MAC"},
		{"whole entries' contents swapped, MACs kept in place", func(t *testing.T, db *sql.DB) {
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
