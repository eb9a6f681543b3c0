package inventory

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"time"
)

// BypassCode is a stored bypass code. The code itself is never stored:
// only its keyed hash.
type BypassCode struct {
	ID         int64     `json:"id"`
	UsesLeft   int       `json:"uses_left"`
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// BypassState is where a bypass code is in its life.
type BypassState string

const (
	BypassLive    BypassState = "live"
	BypassUsedUp  BypassState = "used_up"
	BypassExpired BypassState = "expired"
	BypassRevoked BypassState = "revoked"
)

// State is the code's state at now.
func (c *BypassCode) State(now time.Time) BypassState {
	switch {
	case !c.RevokedAt.IsZero():
		return BypassRevoked
	case c.UsesLeft <= 0:
		return BypassUsedUp
	case !now.Before(c.ExpiresAt):
		return BypassExpired
	}
	return BypassLive
}

func (s *Store) bypassHash(code string) []byte {
	return keyedHash(s.hashKey, "keydesk bypass code", []byte(code))
}

// AddBypassCode stores the keyed hash of a new code for a user.
func (tx *Tx) AddBypassCode(userID int64, code string, uses int, expires time.Time, by string) (BypassCode, error) {
	c := BypassCode{UsesLeft: uses, ExpiresAt: expires.UTC().Truncate(time.Second), CreatedBy: by,
		CreatedAt: tx.now.UTC().Truncate(time.Second)}
	err := tx.queryRow(tx.ctx, `INSERT INTO bypass_codes(user_id, hash, uses_left, expires_at, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, userID, tx.s.bypassHash(code), uses, c.ExpiresAt.Unix(), by, c.CreatedAt.Unix()).Scan(&c.ID)
	if err != nil {
		return BypassCode{}, err
	}
	return c, nil
}

const liveBypass = `user_id = ? AND uses_left > 0 AND expires_at > ? AND revoked_at IS NULL`

// LiveBypassCodes counts a user's codes that can still be used.
func (tx *Tx) LiveBypassCodes(userID int64) (int, error) {
	var n int
	err := tx.queryRow(tx.ctx, `SELECT count(*) FROM bypass_codes WHERE `+liveBypass, userID, tx.now.Unix()).Scan(&n)
	return n, err
}

// bypassMemory is how long a code that ended is still recognised, so that
// a denial can say it expired, was used up or was revoked, rather than
// that it is unknown; and maxRecognised bounds the codes compared.
const (
	bypassMemory  = 30 * 24 * time.Hour
	maxRecognised = 500
)

const bypassColumns = `id, hash, uses_left, expires_at, created_by, created_at, last_used_at, revoked_at`

// FindBypassCode finds the user's code that matches, live or recently
// ended; found is false when none does. Every candidate is compared, in
// constant time, so the time taken does not tell which one matched.
func (tx *Tx) FindBypassCode(userID int64, code string) (c BypassCode, found bool, err error) {
	rows, err := tx.query(tx.ctx, `SELECT `+bypassColumns+` FROM bypass_codes
		WHERE user_id = ? AND expires_at > ? ORDER BY id DESC LIMIT ?`, userID, tx.now.Add(-bypassMemory).Unix(), maxRecognised)
	if err != nil {
		return BypassCode{}, false, err
	}
	defer rows.Close()
	want := tx.s.bypassHash(code)
	for rows.Next() {
		var one BypassCode
		var hash []byte
		if one, hash, err = scanBypass(rows); err != nil {
			return BypassCode{}, false, err
		}
		if hmac.Equal(hash, want) && !found {
			c, found = one, true
		}
	}
	return c, found, rows.Err()
}

func scanBypass(row interface{ Scan(...any) error }) (BypassCode, []byte, error) {
	var c BypassCode
	var hash []byte
	var exp, created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&c.ID, &hash, &c.UsesLeft, &exp, &c.CreatedBy, &created, &used, &revoked); err != nil {
		return BypassCode{}, nil, err
	}
	c.ExpiresAt, c.CreatedAt = time.Unix(exp, 0).UTC(), time.Unix(created, 0).UTC()
	c.LastUsedAt, c.RevokedAt = nullTime(used), nullTime(revoked)
	return c, hash, nil
}

// SpendBypassCode takes one use of a live code, and says what is left.
// It refuses (found false) a code that is no longer live, so that two
// updates racing for its last use cannot both have it.
func (tx *Tx) SpendBypassCode(id int64) (usesLeft int, spent bool, err error) {
	err = tx.queryRow(tx.ctx, `UPDATE bypass_codes SET uses_left = uses_left - 1, last_used_at = ?
		WHERE id = ? AND uses_left > 0 AND expires_at > ? AND revoked_at IS NULL RETURNING uses_left`,
		tx.now.Unix(), id, tx.now.Unix()).Scan(&usesLeft)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return usesLeft, err == nil, err
}

// RevokeBypassCodes ends every live code of a user and says how many.
func (tx *Tx) RevokeBypassCodes(userID int64) (int, error) {
	res, err := tx.exec(tx.ctx, `UPDATE bypass_codes SET revoked_at = ? WHERE `+liveBypass, tx.now.Unix(), userID, tx.now.Unix())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// BypassCodes lists a user's live codes, newest first.
func (s *Store) BypassCodes(ctx context.Context, userID int64) ([]BypassCode, error) {
	rows, err := s.db.query(ctx, `SELECT `+bypassColumns+` FROM bypass_codes WHERE `+liveBypass+` ORDER BY id DESC`,
		userID, s.now().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BypassCode
	for rows.Next() {
		c, _, err := scanBypass(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
