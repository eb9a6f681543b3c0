package inventory

import (
	"context"
	"crypto/hmac"
	"time"
)

// BypassCode is a stored bypass code. The code itself is never stored:
// only its keyed hash.
type BypassCode struct {
	ID        int64     `json:"id"`
	UsesLeft  int       `json:"uses_left"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Store) bypassHash(code string) []byte {
	return keyedHash(s.hashKey, "keydesk bypass code", []byte(code))
}

// AddBypassCode stores the keyed hash of a new code for a user.
func (tx *Tx) AddBypassCode(userID int64, code string, uses int, expires time.Time, by string) (BypassCode, error) {
	c := BypassCode{UsesLeft: uses, ExpiresAt: expires.UTC().Truncate(time.Second), CreatedBy: by,
		CreatedAt: tx.now.UTC().Truncate(time.Second)}
	res, err := tx.exec(tx.ctx, `INSERT INTO bypass_codes(user_id, hash, uses_left, expires_at, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, userID, tx.w.s.bypassHash(code), uses, c.ExpiresAt.Unix(), by, c.CreatedAt.Unix())
	if err != nil {
		return BypassCode{}, err
	}
	c.ID, _ = res.LastInsertId()
	return c, nil
}

const liveBypass = `user_id = ? AND uses_left > 0 AND expires_at > ?`

// LiveBypassCodes counts a user's codes that can still be used.
func (tx *Tx) LiveBypassCodes(userID int64) (int, error) {
	var n int
	err := tx.queryRow(tx.ctx, `SELECT count(*) FROM bypass_codes WHERE `+liveBypass, userID, tx.now.Unix()).Scan(&n)
	return n, err
}

// UseBypassCode spends one use of the user's live code that matches, if
// any. Every live code is compared, in constant time, so the time taken
// does not tell which one matched.
func (tx *Tx) UseBypassCode(userID int64, code string) (BypassCode, bool, error) {
	rows, err := tx.query(tx.ctx, `SELECT id, hash, uses_left, expires_at, created_by, created_at
		FROM bypass_codes WHERE `+liveBypass, userID, tx.now.Unix())
	if err != nil {
		return BypassCode{}, false, err
	}
	want := tx.w.s.bypassHash(code)
	var found BypassCode
	match := false
	for rows.Next() {
		var c BypassCode
		var hash []byte
		var exp, created int64
		if err := rows.Scan(&c.ID, &hash, &c.UsesLeft, &exp, &c.CreatedBy, &created); err != nil {
			rows.Close()
			return BypassCode{}, false, err
		}
		if hmac.Equal(hash, want) {
			c.ExpiresAt, c.CreatedAt = time.Unix(exp, 0).UTC(), time.Unix(created, 0).UTC()
			found, match = c, true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || !match {
		return BypassCode{}, false, err
	}
	found.UsesLeft--
	_, err = tx.exec(tx.ctx, `UPDATE bypass_codes SET uses_left = uses_left - 1 WHERE id = ?`, found.ID)
	return found, err == nil, err
}

// RevokeBypassCodes ends every live code of a user and says how many.
func (tx *Tx) RevokeBypassCodes(userID int64) (int, error) {
	res, err := tx.exec(tx.ctx, `UPDATE bypass_codes SET uses_left = 0 WHERE `+liveBypass, userID, tx.now.Unix())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// BypassCodes lists a user's live codes, newest first.
func (s *Store) BypassCodes(ctx context.Context, userID int64) ([]BypassCode, error) {
	rows, err := s.db.query(ctx, `SELECT id, uses_left, expires_at, created_by, created_at
		FROM bypass_codes WHERE `+liveBypass+` ORDER BY id DESC`, userID, s.now().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BypassCode
	for rows.Next() {
		var c BypassCode
		var exp, created int64
		if err := rows.Scan(&c.ID, &c.UsesLeft, &exp, &c.CreatedBy, &created); err != nil {
			return nil, err
		}
		c.ExpiresAt, c.CreatedAt = time.Unix(exp, 0).UTC(), time.Unix(created, 0).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
