package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a browser's session in the self-service portal. The cookie
// holds a random id; the inventory keeps only its keyed hash, so a copy
// of the database opens no session.
type Session struct {
	ID     int64
	Kind   SessionKind
	UserID int64  // 0 for a visitor not signed in
	User   string // the user's name, "" for a visitor
	LinkID int64  // the link an enrolment or activation session came from
	// CSRF is the token every form of the session carries back.
	CSRF      []byte
	Factor    string // how the user signed in, for the pages and the log
	CreatedAt time.Time
	SeenAt    time.Time
	// ExpiresAt is when the session ends if not used again; EndsAt is
	// when it ends however much it is used.
	ExpiresAt time.Time
	EndsAt    time.Time
}

// SessionKind is what a session lets its browser do.
type SessionKind string

const (
	Visitor    SessionKind = "visitor"   // not signed in: may sign in
	SignedIn   SessionKind = "signed_in" // proved a factor
	Enrolling  SessionKind = "enrol"     // holds an enrolment link
	Activating SessionKind = "activate"  // holds an activation link
)

// Live reports whether the session may still be used at now.
func (s *Session) Live(now time.Time) bool { return now.Before(s.ExpiresAt) && now.Before(s.EndsAt) }

func (s *Store) sessionHash(id string) []byte {
	return keyedHash(s.hashKey, "keydesk portal session", []byte(id))
}

const sessionColumns = `s.id, s.kind, coalesce(s.user_id, 0), coalesce(u.name, ''), coalesce(s.link_id, 0), s.csrf, s.factor,
	s.created_at, s.seen_at, s.expires_at, s.ends_at`

func scanSession(row interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var created, seen, expires, ends int64
	err := row.Scan(&s.ID, &s.Kind, &s.UserID, &s.User, &s.LinkID, &s.CSRF, &s.Factor, &created, &seen, &expires, &ends)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("no such session: %w", ErrNotFound)
	}
	s.CreatedAt, s.SeenAt = time.Unix(created, 0).UTC(), time.Unix(seen, 0).UTC()
	s.ExpiresAt, s.EndsAt = time.Unix(expires, 0).UTC(), time.Unix(ends, 0).UTC()
	return s, err
}

// AddSession stores a new session under the keyed hash of id, and
// forgets sessions that ended a day ago or more.
func (tx *Tx) AddSession(id string, s Session) (Session, error) {
	if _, err := tx.exec(tx.ctx, `DELETE FROM portal_sessions WHERE expires_at < ?1 OR ends_at < ?1`, tx.now.Add(-24*time.Hour).Unix()); err != nil {
		return Session{}, err
	}
	var user, link any
	if s.UserID != 0 {
		user = s.UserID
	}
	if s.LinkID != 0 {
		link = s.LinkID
	}
	var rowID int64
	err := tx.queryRow(tx.ctx, `INSERT INTO portal_sessions(id_hash, kind, user_id, link_id, csrf, factor, created_at, seen_at, expires_at, ends_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, tx.s.sessionHash(id), s.Kind, user, link, s.CSRF, s.Factor,
		tx.now.Unix(), tx.now.Unix(), s.ExpiresAt.Unix(), s.EndsAt.Unix()).Scan(&rowID)
	if err != nil {
		return Session{}, err
	}
	return scanSession(tx.queryRow(tx.ctx, `SELECT `+sessionColumns+` FROM portal_sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id = ?`, rowID))
}

// SessionByID finds a session by the id its cookie holds, live or not;
// [ErrNotFound] if there is none.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	return scanSession(s.db.queryRow(ctx, `SELECT `+sessionColumns+` FROM portal_sessions s LEFT JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = ?`, s.sessionHash(id)))
}

// SessionByID is [Store.SessionByID] inside an update.
func (tx *Tx) SessionByID(id string) (Session, error) {
	return scanSession(tx.queryRow(tx.ctx, `SELECT `+sessionColumns+` FROM portal_sessions s LEFT JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = ?`, tx.s.sessionHash(id)))
}

// TouchSession records that a session was used, and moves its expiry.
func (tx *Tx) TouchSession(id int64, expires time.Time) error {
	_, err := tx.exec(tx.ctx, `UPDATE portal_sessions SET seen_at = ?1, expires_at = CASE WHEN ?2 < ends_at THEN ?2 ELSE ends_at END WHERE id = ?3`, tx.now.Unix(), expires.Unix(), id)
	return err
}

// EndSession ends a session at once.
func (tx *Tx) EndSession(id int64) error {
	_, err := tx.exec(tx.ctx, `UPDATE portal_sessions SET expires_at = ? WHERE id = ?`, tx.now.Unix(), id)
	return err
}

// EndUserSessions ends every session of a user, as when the user is
// disabled or a device of theirs is reported lost.
func (tx *Tx) EndUserSessions(userID int64) (int, error) {
	res, err := tx.exec(tx.ctx, `UPDATE portal_sessions SET expires_at = ?1 WHERE user_id = ?2 AND expires_at > ?1`, tx.now.Unix(), userID)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
