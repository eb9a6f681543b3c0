package inventory

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"
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
	head, found, err := readHead(tx.ctx, tx)
	if err != nil {
		return fmt.Errorf("failed to write the audit log: %w", err)
	}
	k := tx.s.currentKeys()
	if found && !k.headSound(head) {
		// The head was MACed under another key: another server rekeyed
		// the inventory, and this one would write under the old key.
		return fmt.Errorf("failed to write the audit log: %w: the audit head is not under this server's master key (the inventory was rekeyed, or the head altered); restart with the inventory's key and run keydesk audit verify", ErrWrongKey)
	}
	e := AuditEntry{ID: head.id + 1, At: tx.now.UTC().Truncate(time.Second), Actor: actor, Action: action, Subject: subject, Detail: detail}
	e.MAC = k.auditMAC(head.mac, &e)
	if _, err := tx.exec(tx.ctx, `INSERT INTO audit(id, at, actor, action, subject, detail, mac) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.At.Unix(), e.Actor, e.Action, e.Subject, e.Detail, e.MAC); err != nil {
		return fmt.Errorf("failed to write the audit log: %w", err)
	}
	return tx.writeHead(k.newHead(e.ID, e.MAC))
}

// AuditFilter selects entries in [Store.AuditLog]; empty fields select
// all.
type AuditFilter struct {
	Subjects []string // entries about any of these ("user alice", "fob F100")
	Since    time.Time
	Before   int64 // page: entries before this one
	Limit    int   // the newest Limit entries
}

// AuditLog calls fn for each entry the filter selects, oldest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter, fn func(AuditEntry) error) error {
	var where []string
	var args []any
	if len(f.Subjects) > 0 {
		where = append(where, "subject IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Subjects)), ", ")+")")
		for _, sub := range f.Subjects {
			args = append(args, sub)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.Unix())
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	q := `SELECT id, at, actor, action, subject, detail, mac FROM audit` + cond + ` ORDER BY id`
	if f.Limit > 0 {
		q = fmt.Sprintf(`SELECT * FROM (SELECT id, at, actor, action, subject, detail, mac FROM audit%s ORDER BY id DESC LIMIT %d) AS newest ORDER BY id`, cond, f.Limit)
	}
	return auditRows(ctx, s.db, fn, q, args...)
}

func auditRows(ctx context.Context, q querier, fn func(AuditEntry) error, query string, args ...any) error {
	rows, err := q.query(ctx, query, args...)
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
	// HeadFile is where the head is kept outside the database, and
	// Warning what a clerk should know about it.
	HeadFile string `json:"head_file,omitempty"`
	Warning  string `json:"warning,omitempty"`
}

// VerifyAudit walks the chain and returns an [*AuditError] naming the
// first entry that was changed, removed or inserted. Entries removed from
// the end are found through the head, kept in the database and (with
// Options.AuditHeadFile) in a file: a log shorter than either says, or a
// head that is gone while the inventory holds anything, is an error.
func (s *Store) VerifyAudit(ctx context.Context) (AuditSummary, error) {
	var sum AuditSummary
	err := s.snapshot(ctx, func(q querier) (err error) {
		sum, err = verifyChain(ctx, q, s.currentKeys())
		return err
	})
	if err != nil || s.headFile == "" {
		return sum, err
	}
	sum.HeadFile = s.headFile
	if werr := s.headFileError(); werr != nil {
		sum.Warning = werr.Error()
	}
	fh, found, err := readHeadFile(s.headFile)
	switch {
	case err != nil:
		return AuditSummary{}, &AuditError{0, fmt.Sprintf("the head kept outside the database cannot be read: %v", err)}
	case !found:
		if sum.Entries > 0 && sum.Warning == "" {
			sum.Warning = fmt.Sprintf("no head is recorded outside the database at %s yet (a new machine, or the file was removed); it is written at the next change", s.headFile)
		}
		return sum, nil
	case !s.currentKeys().headSound(fh):
		return AuditSummary{}, &AuditError{fh.id, fmt.Sprintf("the head in %s was altered or is from another inventory (its tag does not verify)", s.headFile)}
	case fh.id > sum.Entries:
		return AuditSummary{}, &AuditError{sum.Entries + 1, fmt.Sprintf("missing: the log ends at entry %d, but %s records it was written up to entry %d", sum.Entries, s.headFile, fh.id)}
	}
	if fh.id > 0 {
		var mac []byte
		if err := s.db.queryRow(ctx, `SELECT mac FROM audit WHERE id = ?`, fh.id).Scan(&mac); err != nil || !hmac.Equal(mac, fh.mac) {
			return AuditSummary{}, &AuditError{fh.id, fmt.Sprintf("not the entry %s records: the log was rewritten from there", s.headFile)}
		}
	}
	return sum, nil
}

// errHeadGone is a log whose head was removed.
func headGone(ctx context.Context, q querier) error {
	var rows int
	if err := q.queryRow(ctx, `SELECT (SELECT count(*) FROM audit) + (SELECT count(*) FROM users) + (SELECT count(*) FROM fobs)
		+ (SELECT count(*) FROM admins) + (SELECT count(*) FROM applications) + (SELECT count(*) FROM keys)`).Scan(&rows); err != nil {
		return err
	}
	if rows > 0 {
		return &AuditError{0, "the audit head is gone from the inventory, which holds entries or other rows: the log was cut or removed"}
	}
	return nil
}

func verifyChain(ctx context.Context, q querier, k *keyring) (AuditSummary, error) {
	var prev []byte
	var want int64 = 1
	stop := errors.New("stop")
	var bad *AuditError
	err := auditRows(ctx, q, func(e AuditEntry) error {
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
	}, `SELECT id, at, actor, action, subject, detail, mac FROM audit ORDER BY id`)
	if bad != nil {
		return AuditSummary{}, bad
	}
	if err != nil {
		return AuditSummary{}, err
	}
	head, found, err := readHead(ctx, q)
	switch {
	case errors.Is(err, errOldHead):
		return AuditSummary{}, &AuditError{0, "the audit head is of an older keydesk; open the inventory writable once to upgrade it"}
	case err != nil:
		return AuditSummary{}, &AuditError{0, err.Error()}
	case !found:
		if err := headGone(ctx, q); err != nil {
			return AuditSummary{}, err
		}
	case !k.headSound(head):
		return AuditSummary{}, &AuditError{head.id, "the audit head was altered (its tag does not verify)"}
	case head.id != want-1 || !hmac.Equal(head.mac, prev):
		return AuditSummary{}, &AuditError{want, fmt.Sprintf("missing: the log ends at entry %d but was written up to entry %d", want-1, head.id)}
	}
	return AuditSummary{Entries: want - 1, HeadMAC: fmt.Sprintf("%x", prev)}, nil
}
