package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// User is a person who may hold fobs, keys and bypass codes.
type User struct {
	ID        int64     `json:"-"`
	Name      string    `json:"name"`
	FullName  string    `json:"full_name,omitempty"`
	Email     string    `json:"email,omitempty"`
	Disabled  bool      `json:"disabled"`
	FailCount int       `json:"fail_count"`
	LockedAt  time.Time `json:"locked_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	// WebAuthnID is the user handle (WebAuthn §5.4.3) the user's CTAP2
	// keys know the user by; nil until the first is registered.
	WebAuthnID []byte `json:"-"`
}

// Locked reports whether failed passcodes locked the user.
func (u *User) Locked() bool { return !u.LockedAt.IsZero() }

// CheckUserName says what is wrong with a user name, if anything: the one
// rule, fob's, that seed files are read by too.
func CheckUserName(name string) error { return fob.CheckUserName(name) }

const userColumns = `id, name, full_name, email, disabled, fail_count, locked_at, created_at, webauthn_id`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var locked sql.NullInt64
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.FullName, &u.Email, &u.Disabled, &u.FailCount, &locked, &created, &u.WebAuthnID)
	u.LockedAt = nullTime(locked)
	u.CreatedAt = time.Unix(created, 0).UTC()
	return u, err
}

func getUser(ctx context.Context, q querier, name, lock string) (User, error) {
	// Names match regardless of the case of ASCII letters, as directory
	// logins do: "Alice" at the VPN is alice.
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = ? COLLATE NOCASE`+lock, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("no user named %q: %w", name, ErrNotFound)
	}
	return u, err
}

// User reads one user by name.
func (s *Store) User(ctx context.Context, name string) (User, error) {
	return getUser(ctx, s.db, name, "")
}

// User reads one user by name inside the update, and holds the row until
// the update ends: a user's verifications on several servers go one at a
// time, so that a lockout and an allow cannot cross.
func (tx *Tx) User(name string) (User, error) { return getUser(tx.ctx, tx, name, " FOR UPDATE") }

// UserFilter selects users in [Store.Users]; empty fields select all.
type UserFilter struct {
	Prefix string // names that start with it
	After  string // page: names after this one
	Limit  int
}

// Users lists users by name.
func (s *Store) Users(ctx context.Context, f UserFilter) ([]User, error) {
	q := `SELECT ` + userColumns + ` FROM users WHERE name LIKE ? ESCAPE '\' AND name > ? ORDER BY name`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.query(ctx, q, like(f.Prefix)+"%", f.After)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AddUser stores a new user; [ErrExists] if the name is taken.
func (tx *Tx) AddUser(u User) (User, error) {
	if err := CheckUserName(u.Name); err != nil {
		return User{}, err
	}
	u.FullName = strings.TrimSpace(u.FullName)
	u.Email = strings.TrimSpace(u.Email)
	u.CreatedAt = tx.now.UTC().Truncate(time.Second)
	if err := tx.nameFree("users", "user", u.Name); err != nil {
		return User{}, err
	}
	id, added, err := tx.insert(`INSERT INTO users(name, full_name, email, created_at) VALUES (?, ?, ?, ?)`,
		u.Name, u.FullName, u.Email, u.CreatedAt.Unix())
	if err != nil {
		return User{}, err
	}
	if !added {
		return User{}, fmt.Errorf("user %q: %w", u.Name, ErrExists)
	}
	u.ID = id
	return u, nil
}

// SetUserWebAuthnID gives a user the WebAuthn user handle id, once: a
// user who has one keeps it, and [ErrExists] says so.
func (tx *Tx) SetUserWebAuthnID(userID int64, id []byte) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("a user handle of %d bytes, want 1 to 64", len(id))
	}
	// Asked first rather than left to the unique index: PostgreSQL
	// would abort the whole update at the failed statement.
	var taken int
	if err := tx.queryRow(tx.ctx, `SELECT count(*) FROM users WHERE webauthn_id = ?`, id).Scan(&taken); err != nil {
		return err
	}
	if taken > 0 {
		return fmt.Errorf("this user handle is another user's: %w", ErrExists)
	}
	res, err := tx.exec(tx.ctx, `UPDATE users SET webauthn_id = ? WHERE id = ? AND webauthn_id IS NULL`, id, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("the user has a user handle already: %w", ErrExists)
	}
	return nil
}

// UserByWebAuthnID finds the user whose user handle is id.
func (s *Store) UserByWebAuthnID(ctx context.Context, id []byte) (User, error) {
	u, err := scanUser(s.db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE webauthn_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("no user with this user handle: %w", ErrNotFound)
	}
	return u, err
}

// SetUserDisabled disables or enables a user.
func (tx *Tx) SetUserDisabled(id int64, disabled bool) error {
	// The desk's word stands over the sync's: a user the desk enables or
	// disables is no longer one the sync disabled.
	_, err := tx.exec(tx.ctx, `UPDATE users SET disabled = ?, disabled_by_sync = 0 WHERE id = ?`, disabled, id)
	return err
}

// RecordUserFailure counts a failed passcode and locks the user when the
// count reaches limit. It returns the new count and whether it locked now.
func (tx *Tx) RecordUserFailure(id int64, limit int) (count int, lockedNow bool, err error) {
	return tx.recordFailure("users", id, limit)
}

// recordFailure counts a failure on a user or fob row, and locks the row
// when the count reaches limit, in one statement.
func (tx *Tx) recordFailure(table string, id int64, limit int) (count int, lockedNow bool, err error) {
	err = tx.queryRow(tx.ctx, `UPDATE `+table+` SET fail_count = fail_count + 1,
		locked_at = CASE WHEN locked_at IS NULL AND fail_count + 1 >= ?2 THEN ?3 ELSE locked_at END
		WHERE id = ?1 RETURNING fail_count`, id, limit, tx.now.Unix()).Scan(&count)
	return count, err == nil && count == limit, err
}

// ResetUserFailures clears the failure count after a success or an unlock.
func (tx *Tx) ResetUserFailures(id int64) error {
	_, err := tx.exec(tx.ctx, `UPDATE users SET fail_count = 0, locked_at = NULL WHERE id = ?`, id)
	return err
}

// nameFree refuses a name that a row of table (users, admins,
// applications) already has in any case: "Alice" and "alice" cannot be
// two people, or a proxy and keydesk could read different ones.
func (tx *Tx) nameFree(table, what, name string) error {
	var have string
	err := tx.queryRow(tx.ctx, `SELECT name FROM `+table+` WHERE name = ? COLLATE NOCASE`, name).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case have == name:
		return fmt.Errorf("%s %q: %w", what, name, ErrExists)
	}
	return fmt.Errorf("%s %q: %w as %q (names that differ only in case are the same %s)", what, name, ErrExists, have, what)
}
