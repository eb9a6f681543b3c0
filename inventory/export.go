package inventory

import (
	"context"

	"github.com/keydesk/keydesk/fob"
)

// FinishBatch records what an import found once the whole file was read:
// its SHA-256, its vendor and how many fobs it brought.
func (tx *Tx) FinishBatch(id int64, sha256hex, vendor string, count int) error {
	_, err := tx.exec(tx.ctx, `UPDATE batches SET file_sha256 = ?, vendor = ?, count = ? WHERE id = ?`,
		sha256hex, vendor, count, id)
	return err
}

// ExportFobs calls fn with each fob the filter selects, secrets opened, in
// serial order, for writing them out to another system. It reads in one
// snapshot, one fob at a time.
func (s *Store) ExportFobs(ctx context.Context, filter FobFilter, fn func(fob.Token) error) error {
	q, args := fobQuery(`SELECT `+fobColumns+`, f.secret, f.private_id`+fobFrom, filter)
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var secret, priv []byte
		f, err := scanFob(rows, &secret, &priv)
		if err != nil {
			return err
		}
		if err := s.openSecrets(&f, secret, priv); err != nil {
			return err
		}
		if err := fn(f.Token); err != nil {
			return err
		}
	}
	return rows.Err()
}
