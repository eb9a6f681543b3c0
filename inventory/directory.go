package inventory

import (
	"context"
	"fmt"
	"strings"
)

// DirectoryUser is a user as the directory sync sees them: the id the
// directory gave (empty for a user typed at the desk), and whether the
// sync itself disabled them.
type DirectoryUser struct {
	ID             int64
	DirectoryID    string
	Name           string
	FullName       string
	Email          string
	Disabled       bool
	DisabledBySync bool
}

// DirectoryUsers lists every user with their directory id, if any.
func (s *Store) DirectoryUsers(ctx context.Context) ([]DirectoryUser, error) {
	rows, err := s.db.query(ctx, `SELECT id, coalesce(directory_id, ''), name, full_name, email, disabled, disabled_by_sync FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DirectoryUser
	for rows.Next() {
		var u DirectoryUser
		if err := rows.Scan(&u.ID, &u.DirectoryID, &u.Name, &u.FullName, &u.Email, &u.Disabled, &u.DisabledBySync); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AddDirectoryUser stores a new user the directory names, with its id.
func (tx *Tx) AddDirectoryUser(u User, directoryID string) (User, error) {
	u, err := tx.AddUser(u)
	if err != nil {
		return User{}, err
	}
	_, err = tx.exec(tx.ctx, `UPDATE users SET directory_id = ? WHERE id = ?`, directoryID, u.ID)
	return u, err
}

// UpdateDirectoryUser gives a user what the directory now says: their
// name (a rename keeps the record, its fobs and keys), full name and
// e-mail.
func (tx *Tx) UpdateDirectoryUser(id int64, name, fullName, email string) error {
	if err := CheckUserName(name); err != nil {
		return err
	}
	_, err := tx.exec(tx.ctx, `UPDATE users SET name = ?, full_name = ?, email = ? WHERE id = ?`,
		name, strings.TrimSpace(fullName), strings.TrimSpace(email), id)
	if isUnique(err) {
		return fmt.Errorf("user %q: %w", name, ErrExists)
	}
	return err
}

// SetUserDisabledBySync disables or enables a user for the directory
// sync, remembering that the sync did it.
func (tx *Tx) SetUserDisabledBySync(id int64, disabled bool) error {
	_, err := tx.exec(tx.ctx, `UPDATE users SET disabled = ?, disabled_by_sync = ? WHERE id = ?`, disabled, disabled, id)
	return err
}

// UserFobCount counts the fobs a user holds, lost ones too.
func (tx *Tx) UserFobCount(id int64) (int, error) {
	var n int
	err := tx.queryRow(tx.ctx, `SELECT count(*) FROM fobs WHERE user_id = ?`, id).Scan(&n)
	return n, err
}

// SetDirectoryID links a user typed in at the desk to the directory's
// entry for them.
func (tx *Tx) SetDirectoryID(id int64, directoryID string) error {
	_, err := tx.exec(tx.ctx, `UPDATE users SET directory_id = ? WHERE id = ?`, directoryID, id)
	if isUnique(err) {
		return fmt.Errorf("directory id %q: %w", directoryID, ErrExists)
	}
	return err
}
