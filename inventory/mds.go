package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MDSBlob is the FIDO Metadata Service BLOB last imported, as it came.
// Package verify reads it; the inventory only keeps it.
type MDSBlob struct {
	Blob       []byte    `json:"-"`
	Serial     int       `json:"serial"`
	NextUpdate time.Time `json:"next_update"`
	// Roots is the PEM of the root the BLOB was checked against, when it
	// was not FIDO's built-in one (a test or private metadata service).
	Roots      []byte    `json:"-"`
	Signer     string    `json:"signer,omitempty"`
	Models     int       `json:"models"`
	ImportedBy string    `json:"imported_by"`
	ImportedAt time.Time `json:"imported_at"`
}

// MDSBlob reads the BLOB last imported; [ErrNotFound] if none was.
func (s *Store) MDSBlob(ctx context.Context) (MDSBlob, error) {
	var b MDSBlob
	var next, at int64
	err := s.db.queryRow(ctx, `SELECT blob, serial, next_update, roots, signer, models, imported_by, imported_at FROM mds_blob WHERE id = 1`).
		Scan(&b.Blob, &b.Serial, &next, &b.Roots, &b.Signer, &b.Models, &b.ImportedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return MDSBlob{}, fmt.Errorf("no FIDO metadata BLOB imported: %w", ErrNotFound)
	}
	if err != nil {
		return MDSBlob{}, err
	}
	b.NextUpdate, b.ImportedAt = time.Unix(next, 0).UTC(), time.Unix(at, 0).UTC()
	return b, nil
}

// MDSSerial is the serial number of the BLOB last imported, 0 if none.
func (tx *Tx) MDSSerial() (int, error) {
	var n int
	err := tx.queryRow(tx.ctx, `SELECT serial FROM mds_blob WHERE id = 1`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// PutMDSBlob stores a BLOB in place of the one before; ImportedAt is the
// update's time.
func (tx *Tx) PutMDSBlob(b MDSBlob) error {
	if len(b.Blob) == 0 {
		return errors.New("an empty FIDO metadata BLOB")
	}
	_, err := tx.exec(tx.ctx, `INSERT INTO mds_blob(id, blob, serial, next_update, roots, signer, models, imported_by, imported_at)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET blob = excluded.blob, serial = excluded.serial, next_update = excluded.next_update,
			roots = excluded.roots, signer = excluded.signer, models = excluded.models,
			imported_by = excluded.imported_by, imported_at = excluded.imported_at`,
		b.Blob, b.Serial, b.NextUpdate.Unix(), nonNilBytes(b.Roots), b.Signer, b.Models, b.ImportedBy, tx.now.Unix())
	return err
}
