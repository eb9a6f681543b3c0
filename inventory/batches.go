package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Batch is one delivery of fobs: a seed file imported, or fobs typed in.
type Batch struct {
	ID         int64     `json:"-"`
	Name       string    `json:"name"`
	FileName   string    `json:"file_name,omitempty"`
	FileSHA256 string    `json:"file_sha256,omitempty"`
	Format     string    `json:"format,omitempty"`
	Vendor     string    `json:"vendor,omitempty"`
	Count      int       `json:"count"`
	ImportedBy string    `json:"imported_by"`
	ImportedAt time.Time `json:"imported_at"`
}

const batchColumns = `id, name, file_name, file_sha256, format, vendor, count, imported_by, imported_at`

func scanBatch(row interface{ Scan(...any) error }) (Batch, error) {
	var b Batch
	var at int64
	err := row.Scan(&b.ID, &b.Name, &b.FileName, &b.FileSHA256, &b.Format, &b.Vendor, &b.Count, &b.ImportedBy, &at)
	b.ImportedAt = time.Unix(at, 0).UTC()
	return b, err
}

// AddBatch records a batch; [ErrExists] if the name is taken.
func (tx *Tx) AddBatch(b Batch) (Batch, error) {
	b.ImportedAt = tx.now.UTC().Truncate(time.Second)
	id, added, err := tx.insert(`INSERT INTO batches(name, file_name, file_sha256, format, vendor, count, imported_by, imported_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.Name, b.FileName, b.FileSHA256, b.Format, b.Vendor, b.Count, b.ImportedBy, b.ImportedAt.Unix())
	if err != nil {
		return Batch{}, err
	}
	if !added {
		return Batch{}, fmt.Errorf("batch %q: %w", b.Name, ErrExists)
	}
	b.ID = id
	return b, nil
}

func getBatchBy(ctx context.Context, q querier, column, value string) (Batch, error) {
	b, err := scanBatch(q.queryRow(ctx, `SELECT `+batchColumns+` FROM batches WHERE `+column+` = ? ORDER BY id LIMIT 1`, value))
	if errors.Is(err, sql.ErrNoRows) {
		return Batch{}, fmt.Errorf("no batch with %s %q: %w", column, value, ErrNotFound)
	}
	return b, err
}

// BatchByFile finds the batch that imported a file with this SHA-256.
func (tx *Tx) BatchByFile(sha256hex string) (Batch, error) {
	return getBatchBy(tx.ctx, tx, "file_sha256", sha256hex)
}

// Batches lists batches, oldest first.
func (s *Store) Batches(ctx context.Context) ([]Batch, error) {
	rows, err := s.db.query(ctx, `SELECT `+batchColumns+` FROM batches ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BatchByFile finds the batch that imported a file with this SHA-256,
// outside any update: to say so before a file is read at all.
func (s *Store) BatchByFile(ctx context.Context, sha256hex string) (Batch, error) {
	return getBatchBy(ctx, s.db, "file_sha256", sha256hex)
}

// RemoveBatch removes a batch that holds no fob: an import that brought
// nothing new leaves no batch behind, so the file may be imported later.
func (tx *Tx) RemoveBatch(id int64) error {
	res, err := tx.exec(tx.ctx, `DELETE FROM batches WHERE id = ? AND NOT EXISTS (SELECT 1 FROM fobs WHERE batch_id = ?)`, id, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("batch #%d holds fobs or is gone: not removed", id)
	}
	return nil
}
