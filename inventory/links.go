package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Link is an enrolment or activation link of the self-service portal.
// The link's token is shown once; only its keyed hash is kept.
type Link struct {
	ID        int64     `json:"id"`
	Kind      LinkKind  `json:"kind"`
	User      string    `json:"user"`
	UserID    int64     `json:"-"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// LinkKind says what a link lets its holder do.
type LinkKind string

const (
	EnrolLink    LinkKind = "enrol"    // add a first device
	ActivateLink LinkKind = "activate" // pair a phone app
)

// LinkState is where a link is in its life.
type LinkState string

const (
	LinkLive    LinkState = "live"
	LinkUsed    LinkState = "used"
	LinkExpired LinkState = "expired"
	LinkRevoked LinkState = "revoked"
)

// State is the link's state at now.
func (l *Link) State(now time.Time) LinkState {
	switch {
	case !l.RevokedAt.IsZero():
		return LinkRevoked
	case !l.UsedAt.IsZero():
		return LinkUsed
	case !now.Before(l.ExpiresAt):
		return LinkExpired
	}
	return LinkLive
}

func (s *Store) linkHash(token string) []byte {
	return keyedHash(s.hashKey, "keydesk portal link", []byte(token))
}

const linkColumns = `l.id, l.kind, u.name, l.user_id, l.created_by, l.created_at, l.expires_at, l.used_at, l.revoked_at`

const linkFrom = ` FROM portal_links l JOIN users u ON u.id = l.user_id `

func scanLink(row interface{ Scan(...any) error }) (Link, error) {
	var l Link
	var created, expires int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&l.ID, &l.Kind, &l.User, &l.UserID, &l.CreatedBy, &created, &expires, &used, &revoked); err != nil {
		return Link{}, err
	}
	l.CreatedAt, l.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	l.UsedAt, l.RevokedAt = nullTime(used), nullTime(revoked)
	return l, nil
}

// AddLink stores the keyed hash of a new link's token.
func (tx *Tx) AddLink(kind LinkKind, userID int64, token, by string, expires time.Time) (Link, error) {
	var id int64
	err := tx.queryRow(tx.ctx, `INSERT INTO portal_links(kind, user_id, token_hash, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, kind, userID, tx.s.linkHash(token), by, tx.now.Unix(), expires.Unix()).Scan(&id)
	if err != nil {
		return Link{}, err
	}
	return tx.linkBy(`l.id = ?`, id)
}

func (tx *Tx) linkBy(where string, arg any) (Link, error) {
	l, err := scanLink(tx.queryRow(tx.ctx, `SELECT `+linkColumns+linkFrom+`WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, fmt.Errorf("no such link: %w", ErrNotFound)
	}
	return l, err
}

// LinkByToken finds a link by the token its holder presents, in any
// state; [ErrNotFound] if no link has that token.
func (tx *Tx) LinkByToken(token string) (Link, error) {
	return tx.linkBy(`l.token_hash = ?`, tx.s.linkHash(token))
}

// LinkByToken is [Tx.LinkByToken] outside an update.
func (s *Store) LinkByToken(ctx context.Context, token string) (Link, error) {
	l, err := scanLink(s.db.queryRow(ctx, `SELECT `+linkColumns+linkFrom+`WHERE l.token_hash = ?`, s.linkHash(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, fmt.Errorf("no such link: %w", ErrNotFound)
	}
	return l, err
}

// Link reads a link by id.
func (s *Store) Link(ctx context.Context, id int64) (Link, error) {
	l, err := scanLink(s.db.queryRow(ctx, `SELECT `+linkColumns+linkFrom+`WHERE l.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, fmt.Errorf("no such link: %w", ErrNotFound)
	}
	return l, err
}

// Link reads a link by id inside the update.
func (tx *Tx) Link(id int64) (Link, error) { return tx.linkBy(`l.id = ?`, id) }

// LiveLinks lists a user's links of a kind that are live at the update's
// time.
func (tx *Tx) LiveLinks(userID int64, kind LinkKind) ([]Link, error) {
	rows, err := tx.query(tx.ctx, `SELECT `+linkColumns+linkFrom+`WHERE l.user_id = ? AND l.kind = ?
		AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > ? ORDER BY l.id`, userID, kind, tx.now.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// UseLink marks a live link used; it reports false when the link was
// not live any more (used, revoked or expired meanwhile), so that two
// servers finishing with one link cannot both use it.
func (tx *Tx) UseLink(id int64) (bool, error) {
	res, err := tx.exec(tx.ctx, `UPDATE portal_links SET used_at = ?1 WHERE id = ?2
		AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1`, tx.now.Unix(), id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RevokeLink ends a link that is not used yet.
func (tx *Tx) RevokeLink(id int64) error {
	_, err := tx.exec(tx.ctx, `UPDATE portal_links SET revoked_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, tx.now.Unix(), id)
	return err
}
