package inventory

import (
	"context"
	"fmt"
)

// Rekey seals the inventory under a new master key in one transaction:
// every fob secret is sealed again, the audit chain is verified under the
// old key and MACed again under the new one, and the key record changes.
// If anything fails, nothing changes. The caller keeps the new key safe
// before calling, and the old one until Rekey returns.
func (s *Store) Rekey(ctx context.Context, newMaster []byte, actor string) error {
	nk, err := newKeyring(newMaster, s.currentKeys().rand)
	if err != nil {
		return err
	}
	old := s.currentKeys()
	err = s.updateAlone(ctx, func(tx *Tx) error {
		// The key record first, held until the commit: on PostgreSQL an
		// update of another server that seals (see Tx.sealer) waits for
		// this one and then refuses, rather than seal under the old key.
		var fp []byte
		if err := tx.queryRow(tx.ctx, `SELECT value FROM meta WHERE name = 'master_key_fingerprint' FOR UPDATE`).Scan(&fp); err != nil {
			return err
		}
		if string(fp) != old.fingerprint {
			return fmt.Errorf("%w: the inventory was rekeyed to the key with fingerprint %s meanwhile", ErrWrongKey, fp)
		}
		if _, err := verifyChain(tx.ctx, tx, old); err != nil {
			return fmt.Errorf("the audit log does not verify, so it cannot be carried to a new key: %w", err)
		}
		if err := resealFobs(tx, old, nk); err != nil {
			return err
		}
		if err := resealApplications(tx, old, nk); err != nil {
			return err
		}
		if err := resealPhoneApps(tx, old, nk); err != nil {
			return err
		}
		sealed, err := nk.sealValue(s.hashKey, "meta/hash_key")
		if err != nil {
			return err
		}
		if _, err := tx.exec(tx.ctx, `UPDATE meta SET value = ? WHERE name = 'hash_key'`, sealed); err != nil {
			return err
		}
		if _, err := tx.exec(tx.ctx, `UPDATE meta SET value = ? WHERE name = 'master_key_fingerprint'`, []byte(nk.fingerprint)); err != nil {
			return err
		}
		if err := remacAudit(tx, nk); err != nil {
			return err
		}
		// From here on the updates that share this commit seal under the
		// new key. If this update or the commit fails, the writer puts the
		// old key back before it runs anything else: restoring it here,
		// after Update returns, would leave a moment in which another
		// group seals under a key the file does not record.
		s.setKeys(nk)
		tx.onAbort(func() { s.setKeys(old) })
		return tx.Audit(actor, "rekey", "inventory", fmt.Sprintf("master key %s replaced by %s", old.fingerprint, nk.fingerprint))
	})
	return err
}

func resealFobs(tx *Tx, old, nk *keyring) error {
	type sealed struct {
		id           int64
		serial       string
		secret, priv []byte
	}
	rows, err := tx.query(tx.ctx, `SELECT id, serial, secret, private_id FROM fobs`)
	if err != nil {
		return err
	}
	var all []sealed
	for rows.Next() {
		var r sealed
		if err := rows.Scan(&r.id, &r.serial, &r.secret, &r.priv); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	reseal := func(v []byte, row string) ([]byte, error) {
		if v == nil {
			return nil, nil
		}
		plain, err := old.openValue(v, row)
		if err != nil {
			return nil, err
		}
		return nk.sealValue(plain, row)
	}
	for _, r := range all {
		secret, err := reseal(r.secret, fobRow(r.serial, "secret"))
		if err != nil {
			return err
		}
		priv, err := reseal(r.priv, fobRow(r.serial, "private_id"))
		if err != nil {
			return err
		}
		if _, err := tx.exec(tx.ctx, `UPDATE fobs SET secret = ?, private_id = ? WHERE id = ?`, secret, priv, r.id); err != nil {
			return err
		}
	}
	return nil
}

func remacAudit(tx *Tx, nk *keyring) error {
	tx.rekeyedHead()
	var entries []AuditEntry
	err := auditRows(tx.ctx, tx, func(e AuditEntry) error {
		entries = append(entries, e)
		return nil
	}, `SELECT id, at, actor, action, subject, detail, mac FROM audit ORDER BY id`)
	if err != nil {
		return err
	}
	var prev []byte
	for i := range entries {
		e := &entries[i]
		e.MAC = nk.auditMAC(prev, e)
		if _, err := tx.exec(tx.ctx, `UPDATE audit SET mac = ? WHERE id = ?`, e.MAC, e.ID); err != nil {
			return err
		}
		prev = e.MAC
	}
	if len(entries) == 0 {
		return tx.writeHead(nk.newHead(0, nil))
	}
	last := entries[len(entries)-1]
	return tx.writeHead(nk.newHead(last.ID, last.MAC))
}

// updateAlone is an update that no other update of this store runs beside:
// SQLite's writer runs one at a time anyway; on PostgreSQL the others wait.
func (s *Store) updateAlone(ctx context.Context, fn func(tx *Tx) error) error {
	if s.pg != nil && !s.readOnly {
		return s.pg.update(ctx, fn, true)
	}
	return s.Update(ctx, fn)
}

// reseal opens each value a query selects (id, name, sealed value) under
// old and seals it again under nk, bound to the same row. All rows are
// read before any is written: a statement may not write the rows an open
// query of the same connection still reads.
func (tx *Tx) reseal(old, nk *keyring, selectQ, updateQ string, rowOf func(id int64, name string) string) error {
	type row struct {
		id     int64
		name   string
		sealed []byte
	}
	rows, err := tx.query(tx.ctx, selectQ)
	if err != nil {
		return err
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.sealed); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		plain, err := old.openValue(r.sealed, rowOf(r.id, r.name))
		if err != nil {
			return err
		}
		sealed, err := nk.sealValue(plain, rowOf(r.id, r.name))
		if err != nil {
			return err
		}
		if _, err := tx.exec(tx.ctx, updateQ, sealed, r.id); err != nil {
			return err
		}
	}
	return nil
}
