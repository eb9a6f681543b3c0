package inventory

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ceremony is a WebAuthn registration or login begun and not finished:
// the challenge the browser must sign over, whom it is for, and who may
// finish it. The ceremony's id is shown once, to whoever finishes it;
// only its keyed hash is kept.
type Ceremony struct {
	ID      int64
	Purpose string // "login" or "register"
	UserID  int64
	User    string
	// BoundTo names who may finish: "app:wiki", "admin:carol",
	// "session:42".
	BoundTo   string
	Challenge []byte
	KeyIDs    []int64 // the keys offered, for a login
	AppID     string  // the appid extension offered, if any
	RequireUV bool
	// UserHandle is the user handle drawn for a registration by a user
	// who has none yet (WebAuthn §5.4.3); nil otherwise.
	UserHandle []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Ceremony purposes.
const (
	CeremonyLogin    = "login"
	CeremonyRegister = "register"
)

func (s *Store) ceremonyHash(id string) []byte {
	return keyedHash(s.hashKey, "keydesk webauthn ceremony", []byte(id))
}

// AddCeremony stores a ceremony under the keyed hash of id, and forgets
// ceremonies that ended an hour ago or more.
func (tx *Tx) AddCeremony(id string, c Ceremony) error {
	if _, err := tx.exec(tx.ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at < ?`, tx.now.Add(-time.Hour).Unix()); err != nil {
		return err
	}
	ids := make([]string, len(c.KeyIDs))
	for i, k := range c.KeyIDs {
		ids[i] = strconv.FormatInt(k, 10)
	}
	_, err := tx.exec(tx.ctx, `INSERT INTO webauthn_ceremonies(id_hash, purpose, user_id, bound_to, challenge, key_ids, app_id, require_uv,
		user_handle, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tx.s.ceremonyHash(id), c.Purpose, c.UserID,
		c.BoundTo, c.Challenge, strings.Join(ids, ","), c.AppID, c.RequireUV, c.UserHandle, tx.now.Unix(), c.ExpiresAt.Unix())
	return err
}

// ErrCeremonyUsed is returned by [Tx.TakeCeremony] for a ceremony that
// was finished before: the same answer posted again.
var ErrCeremonyUsed = errors.New("this sign-in or registration was finished before")

// ErrCeremonyExpired is returned by [Tx.TakeCeremony] for a ceremony past
// its time.
var ErrCeremonyExpired = errors.New("this sign-in or registration took too long and expired")

// TakeCeremony finishes a ceremony: it is marked used, so that nobody
// finishes it again, and returned. A ceremony used before is
// [ErrCeremonyUsed], one past its time [ErrCeremonyExpired] (and used up
// too), an unknown id [ErrNotFound].
func (tx *Tx) TakeCeremony(id string) (Ceremony, error) {
	var c Ceremony
	var keys string
	var created, expires int64
	var used sql.NullInt64
	err := tx.queryRow(tx.ctx, `SELECT w.id, w.purpose, w.user_id, u.name, w.bound_to, w.challenge, w.key_ids, w.app_id, w.require_uv,
		w.user_handle, w.created_at, w.expires_at, w.used_at FROM webauthn_ceremonies w JOIN users u ON u.id = w.user_id WHERE w.id_hash = ?`,
		tx.s.ceremonyHash(id)).Scan(&c.ID, &c.Purpose, &c.UserID, &c.User, &c.BoundTo, &c.Challenge, &keys, &c.AppID,
		&c.RequireUV, &c.UserHandle, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return Ceremony{}, fmt.Errorf("no such sign-in or registration: %w", ErrNotFound)
	}
	if err != nil {
		return Ceremony{}, err
	}
	c.CreatedAt, c.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	for _, s := range strings.Split(keys, ",") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			c.KeyIDs = append(c.KeyIDs, n)
		}
	}
	// The update is the one that counts: of two servers taking the same
	// ceremony at once, only one sees its row change.
	res, err := tx.exec(tx.ctx, `UPDATE webauthn_ceremonies SET used_at = ? WHERE id = ? AND used_at IS NULL`, tx.now.Unix(), c.ID)
	if err != nil {
		return Ceremony{}, err
	}
	switch n, _ := res.RowsAffected(); {
	case n != 1:
		return c, ErrCeremonyUsed
	case !tx.now.Before(c.ExpiresAt):
		return c, ErrCeremonyExpired
	}
	return c, nil
}

// RenameKey gives a key a new name.
func (tx *Tx) RenameKey(id int64, name string) error {
	_, err := tx.exec(tx.ctx, `UPDATE keys SET name = ? WHERE id = ?`, name, id)
	return err
}
