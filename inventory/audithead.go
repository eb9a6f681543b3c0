package inventory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The audit head is the last entry's number and MAC, authenticated with
// a key derived from the master key, so that removing entries from the
// end of the log and rewriting the head needs the key too. It is kept in
// the database (meta) and, when the store is told where, in a file beside
// the master key, written after each commit that adds entries: a copy of
// the whole database rolled back to an older state, head and all, is
// still caught by the file.
type auditHead struct {
	id  int64
	mac []byte // the last entry's MAC; empty for an empty log
	tag []byte // HMAC of id and mac under the head key
}

const headVersion = 2

func (k *keyring) tagHead(id int64, mac []byte) []byte {
	m := hmac.New(sha256.New, k.head)
	m.Write([]byte("keydesk audit head\x00"))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(id)))
	m.Write(mac)
	return m.Sum(nil)
}

func (k *keyring) newHead(id int64, mac []byte) auditHead {
	return auditHead{id: id, mac: mac, tag: k.tagHead(id, mac)}
}

func (k *keyring) headSound(h auditHead) bool { return hmac.Equal(h.tag, k.tagHead(h.id, h.mac)) }

// encodeHead is version || id || len(mac) || mac || tag.
func encodeHead(h auditHead) []byte {
	b := []byte{headVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(h.id))
	b = append(b, byte(len(h.mac)))
	b = append(b, h.mac...)
	return append(b, h.tag...)
}

// errOldHead is a head written before heads were authenticated.
var errOldHead = errors.New("audit head of an older keydesk, not authenticated")

func decodeHead(b []byte) (auditHead, error) {
	if len(b) == 8+sha256.Size && b[0] != headVersion {
		return auditHead{}, errOldHead
	}
	if len(b) < 10 || b[0] != headVersion {
		return auditHead{}, errors.New("audit head is malformed")
	}
	n := int(b[9])
	if n != 0 && n != sha256.Size || len(b) != 10+n+sha256.Size {
		return auditHead{}, errors.New("audit head is malformed")
	}
	id := int64(binary.BigEndian.Uint64(b[1:9]))
	if id < 0 || (id == 0) != (n == 0) {
		return auditHead{}, errors.New("audit head is malformed")
	}
	return auditHead{id: id, mac: bytes.Clone(b[10 : 10+n]), tag: bytes.Clone(b[10+n:])}, nil
}

// readHead reads the head in the database; found is false when it is gone.
// Inside an update the row is held until the update ends: every entry
// follows the one before it, whichever server writes it.
func readHead(ctx context.Context, q querier) (h auditHead, found bool, err error) {
	lock := ""
	if _, ok := q.(*Tx); ok {
		lock = " FOR UPDATE"
	}
	var b []byte
	err = q.queryRow(ctx, `SELECT value FROM meta WHERE name = 'audit_head'`+lock).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return auditHead{}, false, nil
	}
	if err != nil {
		return auditHead{}, false, err
	}
	h, err = decodeHead(b)
	return h, true, err
}

func (tx *Tx) writeHead(h auditHead) error {
	_, err := tx.exec(tx.ctx, `INSERT INTO meta(name, value) VALUES ('audit_head', ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`, encodeHead(h))
	if err == nil {
		prev := tx.g.head
		tx.g.head = &h
		tx.onAbort(func() { tx.g.head = prev })
	}
	return err
}

// rekeyedHead marks the group's head as MACed under a new key.
func (tx *Tx) rekeyedHead() {
	tx.g.rekeyed = true
	tx.onAbort(func() { tx.g.rekeyed = false })
}

// The head file is text, so that an operator can read it and copy it to
// another machine:
//
//	keydesk audit head v2
//	entry 1234
//	mac <hex>
//	tag <hex>
const maxHeadFile = 512

func formatHeadFile(h auditHead) []byte {
	return fmt.Appendf(nil, "keydesk audit head v%d\nentry %d\nmac %x\ntag %x\n", headVersion, h.id, h.mac, h.tag)
}

// parseHeadFile reads a head file, naming the line that is wrong.
func parseHeadFile(b []byte) (auditHead, error) {
	if len(b) > maxHeadFile {
		return auditHead{}, fmt.Errorf("larger than %d bytes", maxHeadFile)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{fmt.Sprintf("keydesk audit head v%d", headVersion), "entry ", "mac ", "tag "}
	if len(lines) != len(want) || lines[0] != want[0] {
		return auditHead{}, errors.New("line 1: not a keydesk audit head file")
	}
	var h auditHead
	for i, prefix := range want[1:] {
		v, ok := strings.CutPrefix(lines[i+1], prefix)
		if !ok {
			return auditHead{}, fmt.Errorf("line %d: want %q", i+2, strings.TrimSpace(prefix))
		}
		var err error
		switch i {
		case 0:
			h.id, err = strconv.ParseInt(v, 10, 64)
			if err == nil && h.id < 0 {
				err = errors.New("negative")
			}
		case 1:
			h.mac, err = hex.DecodeString(v)
		case 2:
			h.tag, err = hex.DecodeString(v)
		}
		if err != nil {
			return auditHead{}, fmt.Errorf("line %d: %v", i+2, err)
		}
	}
	if (len(h.mac) != 0 && len(h.mac) != sha256.Size) || len(h.tag) != sha256.Size || (h.id == 0) != (len(h.mac) == 0) {
		return auditHead{}, errors.New("entry, mac and tag do not fit together")
	}
	return h, nil
}

// writeHeadFile puts h in path, whole or not at all: a temporary file
// beside it, synced, then renamed over it.
func writeHeadFile(path string, h auditHead) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, err = f.Write(formatHeadFile(h))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("failed to record the audit head in %s: %w", path, err)
	}
	return nil
}

func readHeadFile(path string) (h auditHead, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return auditHead{}, false, nil
	}
	if err != nil {
		return auditHead{}, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxHeadFile+1))
	if err != nil {
		return auditHead{}, false, err
	}
	h, err = parseHeadFile(b)
	if err != nil {
		return auditHead{}, true, fmt.Errorf("%s: %w", path, err)
	}
	return h, true, nil
}

// recordHead writes the head the last commit left to the head file,
// unless the file records a log that the database no longer holds: then
// the file is evidence (the log was cut, or rolled back and written on),
// and is kept for VerifyAudit to report. A rekey, which MACs every entry
// anew, replaces the file whatever it says.
func (s *Store) recordHead(ctx context.Context, h auditHead, rekeyed bool) {
	if !rekeyed {
		old, found, err := readHeadFile(s.headFile)
		if err != nil {
			s.setHeadFileError(err)
			return
		}
		if found && s.currentKeys().headSound(old) && old.id > 0 {
			var mac []byte
			err := s.db.queryRow(ctx, `SELECT mac FROM audit WHERE id = ?`, old.id).Scan(&mac)
			if err != nil || !hmac.Equal(mac, old.mac) {
				s.setHeadFileError(fmt.Errorf("%s records entry %d, which the log no longer holds as written; the file is kept as evidence (keydesk audit verify)", s.headFile, old.id))
				return
			}
			if old.id > h.id {
				// Another process sharing the file (a second server, the
				// CLI) committed later and recorded first: the file is
				// already further along.
				s.setHeadFileError(nil)
				return
			}
		}
	}
	s.setHeadFileError(writeHeadFile(s.headFile, h))
}

// setHeadFileError keeps the last failure to write the head file (or
// clears it), for VerifyAudit to report: the commit it followed stands.
func (s *Store) setHeadFileError(err error) {
	s.headMu.Lock()
	s.headErr = err
	s.headMu.Unlock()
}

func (s *Store) headFileError() error {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	return s.headErr
}

// headMigration is the schema version that brought authenticated heads.
const headMigration = 3

// upgradeHead gives an inventory of an older keydesk an authenticated
// head, once its chain has verified under the key: from then on a cut at
// the end of the log is found. It runs once, with the migration to
// headMigration; an unauthenticated head found later was put there.
func (s *Store) upgradeHead(ctx context.Context) error {
	_, found, err := readHead(ctx, s.db)
	if found && !errors.Is(err, errOldHead) {
		return nil
	}
	if !found {
		// An older keydesk wrote no head before the first entry.
		var n int
		if err := s.db.queryRow(ctx, `SELECT count(*) FROM audit`).Scan(&n); err != nil || n > 0 {
			return err
		}
	}
	return s.Update(ctx, func(tx *Tx) error {
		var prev []byte
		var last int64
		err := auditRows(tx.ctx, tx, func(e AuditEntry) error {
			if e.ID != last+1 || !hmac.Equal(e.MAC, s.currentKeys().auditMAC(prev, &e)) {
				return &AuditError{e.ID, "does not verify; the head is left as it was"}
			}
			prev, last = e.MAC, e.ID
			return nil
		}, `SELECT id, at, actor, action, subject, detail, mac FROM audit ORDER BY id`)
		if err != nil {
			return fmt.Errorf("upgrading the audit head: %w", err)
		}
		return tx.writeHead(s.currentKeys().newHead(last, prev))
	})
}
