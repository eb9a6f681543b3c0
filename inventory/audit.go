package inventory

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// AuditEntry is one line of the audit log: who did what to which fob or
// user, and when. MAC chains it to the entry before it.
type AuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	Detail  string    `json:"detail,omitempty"`
	MAC     []byte    `json:"-"`
}

// Audit appends an entry to the chain, in the same transaction as the
// change it records, so that neither lands without the other.
func (tx *Tx) Audit(actor, action, subject, detail string) error {
	head, err := tx.auditHead()
	if err != nil {
		return err
	}
	e := AuditEntry{ID: head.id + 1, At: tx.now.UTC().Truncate(time.Second), Actor: actor, Action: action, Subject: subject, Detail: detail}
	e.MAC = tx.w.s.currentKeys().auditMAC(head.mac, &e)
	if _, err := tx.exec(tx.ctx, `INSERT INTO audit(id, at, actor, action, subject, detail, mac) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.At.Unix(), e.Actor, e.Action, e.Subject, e.Detail, e.MAC); err != nil {
		return fmt.Errorf("failed to write the audit log: %w", err)
	}
	_, err = tx.exec(tx.ctx, `INSERT INTO meta(name, value) VALUES ('audit_head', ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`, encodeHead(auditHead{e.ID, e.MAC}))
	return err
}

// auditHead is the last entry's id and MAC, kept in meta so that removing
// entries from the end of the log is seen too.
type auditHead struct {
	id  int64
	mac []byte
}

func encodeHead(h auditHead) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), h.mac...), uint64(h.id))
}

func decodeHead(b []byte) (auditHead, error) {
	if len(b) < 8 {
		return auditHead{}, errors.New("audit head is malformed")
	}
	n := len(b) - 8
	return auditHead{id: int64(binary.BigEndian.Uint64(b[n:])), mac: b[:n]}, nil
}

func readHead(ctx context.Context, q querier) (auditHead, error) {
	var b []byte
	err := q.queryRow(ctx, `SELECT value FROM meta WHERE name = 'audit_head'`).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return auditHead{}, nil
	}
	if err != nil {
		return auditHead{}, err
	}
	return decodeHead(b)
}

func (tx *Tx) auditHead() (auditHead, error) { return readHead(tx.ctx, tx) }

// AuditLog calls fn for each entry, oldest first. With a non-zero limit it
// reads only the newest limit entries.
func (s *Store) AuditLog(ctx context.Context, limit int, fn func(AuditEntry) error) error {
	q := `SELECT id, at, actor, action, subject, detail, mac FROM audit ORDER BY id`
	if limit > 0 {
		q = fmt.Sprintf(`SELECT * FROM (SELECT id, at, actor, action, subject, detail, mac FROM audit ORDER BY id DESC LIMIT %d) ORDER BY id`, limit)
	}
	return auditRows(ctx, s.db, q, fn)
}

func auditRows(ctx context.Context, q querier, query string, fn func(AuditEntry) error) error {
	rows, err := q.query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.MAC); err != nil {
			return err
		}
		e.At = time.Unix(at, 0).UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuditError names the first entry of the log that is not as written.
type AuditError struct {
	ID     int64
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit log entry %d: %s", e.ID, e.Reason)
}

// AuditSummary is what [Store.VerifyAudit] found in a sound log.
type AuditSummary struct {
	Entries int64  `json:"entries"`
	HeadMAC string `json:"head_mac"` // record it elsewhere to detect a rollback of the whole file
}

// VerifyAudit walks the chain and returns an [*AuditError] naming the
// first entry that was changed, removed or inserted.
func (s *Store) VerifyAudit(ctx context.Context) (AuditSummary, error) {
	return verifyChain(ctx, s.db, s.currentKeys())
}

func verifyChain(ctx context.Context, q querier, k *keyring) (AuditSummary, error) {
	var prev []byte
	var want int64 = 1
	stop := errors.New("stop")
	var bad *AuditError
	err := auditRows(ctx, q, `SELECT id, at, actor, action, subject, detail, mac FROM audit ORDER BY id`, func(e AuditEntry) error {
		switch {
		case e.ID > want:
			bad = &AuditError{want, fmt.Sprintf("missing (the log jumps from entry %d to %d)", want-1, e.ID)}
		case !hmac.Equal(e.MAC, k.auditMAC(prev, &e)):
			bad = &AuditError{e.ID, "changed, inserted, or its predecessor was changed (MAC does not match)"}
		}
		if bad != nil {
			return stop
		}
		prev, want = e.MAC, e.ID+1
		return nil
	})
	if bad != nil {
		return AuditSummary{}, bad
	}
	if err != nil {
		return AuditSummary{}, err
	}
	head, err := readHead(ctx, q)
	if err != nil {
		return AuditSummary{}, err
	}
	if head.id != want-1 || !hmac.Equal(head.mac, prev) {
		return AuditSummary{}, &AuditError{head.id, fmt.Sprintf("missing: the log ends at entry %d but was written up to entry %d", want-1, head.id)}
	}
	return AuditSummary{Entries: want - 1, HeadMAC: fmt.Sprintf("%x", prev)}, nil
}
