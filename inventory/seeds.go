package inventory

// The same seed on two fobs is found through a keyed hash of each fob's
// seed (HMAC-SHA256 under the inventory's hash key), so that no seed is
// ever compared in the clear, and a copy of the database alone does not
// tell which fobs share one. Two fobs with one seed make the same codes:
// either would pass for the other, and losing one compromises both.

import (
	"context"
	"fmt"
)

// seedHash is the keyed hash a fob's seed is compared by, cut to 128
// bits: the chance that two of a million different seeds share it is
// about 2^-88, and the index on it is half the size, which keeps a
// million-fob import within SQLite's page cache.
func (s *Store) seedHash(secret []byte) []byte {
	return keyedHash(s.hashKey, "keydesk fob seed", secret)[:16]
}

// maxTwins bounds the serials a look-up for one seed lists.
const maxTwins = 10

// FobsWithSeed lists the serials of stored fobs, at most 10, whose seed
// (or Yubico AES key) is secret.
func (tx *Tx) FobsWithSeed(secret []byte) ([]string, error) {
	rows, err := tx.query(tx.ctx, `SELECT serial FROM fobs WHERE seed_hash = ? ORDER BY id LIMIT ?`,
		tx.s.seedHash(secret), maxTwins)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SharedSeed is a fob whose seed another fob, stored before it, has.
type SharedSeed struct {
	Serial string `json:"serial"`
	Other  string `json:"same_seed_as"`
}

// sharedInBatch selects the fobs of a batch whose seed a fob stored
// before them has, in the batch or another: each pair is named once, by
// its later fob.
const sharedInBatch = ` FROM fobs f WHERE f.batch_id = ? AND EXISTS (SELECT 1 FROM fobs o
	WHERE o.seed_hash = f.seed_hash AND o.id < f.id)`

// SharedSeeds lists up to limit fobs of a batch whose seed another fob
// has, and says how many there are in all. One pass over the batch finds
// none, which is the usual answer.
func (tx *Tx) SharedSeeds(batchID int64, limit int) ([]SharedSeed, int, error) {
	rows, err := tx.query(tx.ctx, `SELECT f.serial, (SELECT o.serial FROM fobs o WHERE o.seed_hash = f.seed_hash AND o.id < f.id
		ORDER BY o.id LIMIT 1)`+sharedInBatch+` ORDER BY f.id LIMIT ?`, batchID, limit)
	if err != nil {
		return nil, 0, err
	}
	var out []SharedSeed
	for rows.Next() {
		var s SharedSeed
		if err := rows.Scan(&s.Serial, &s.Other); err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) < limit {
		return out, len(out), err
	}
	var n int
	err = tx.queryRow(tx.ctx, `SELECT count(*)`+sharedInBatch, batchID).Scan(&n)
	return out, n, err
}

// hashSeeds gives the fobs stored before seeds were hashed their hash,
// a few thousand to a transaction so that other writers are not held up
// for long. It finds nothing to do at once on an inventory that has them.
func (s *Store) hashSeeds(ctx context.Context) error {
	const chunk = 5000
	for {
		n := 0
		err := s.Update(ctx, func(tx *Tx) error {
			type row struct {
				id     int64
				serial string
				secret []byte
			}
			rows, err := tx.query(tx.ctx, `SELECT id, serial, secret FROM fobs WHERE seed_hash IS NULL ORDER BY id LIMIT ?`, chunk)
			if err != nil {
				return err
			}
			var todo []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.serial, &r.secret); err != nil {
					rows.Close()
					return err
				}
				todo = append(todo, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range todo {
				secret, err := s.currentKeys().openValue(r.secret, fobRow(r.serial, "secret"))
				if err != nil {
					return fmt.Errorf("hashing the seed of fob %s: %w", r.serial, err)
				}
				_, err = tx.exec(tx.ctx, `UPDATE fobs SET seed_hash = ? WHERE id = ?`, s.seedHash(secret), r.id)
				clear(secret)
				if err != nil {
					return err
				}
			}
			n = len(todo)
			return nil
		})
		if err != nil || n < chunk {
			return err
		}
	}
}
