package inventory

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
)

// Prefixes of the credentials the server hands out, so that a token in a
// log or a paste says what it is (and secret scanners can find it).
const (
	AdminTokenPrefix = "kd_admin_"
	AppKeyPrefix     = "kd_app_"
)

// credentialBytes is the randomness in a token or key: 160 bits, above
// the 128 an online or offline guess would have to beat.
const credentialBytes = 20

// maxCredential bounds a presented token before it is hashed.
const maxCredential = 128

var credentialEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newCredential draws a token: prefix and 32 base32 letters, lower case.
func newCredential(rand io.Reader, prefix string) (string, error) {
	b := make([]byte, credentialBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("failed to draw a credential: %w", err)
	}
	return prefix + strings.ToLower(credentialEncoding.EncodeToString(b)), nil
}

// CheckName says what is wrong with the name of an administrator or an
// application, if anything; what is "admin" or "application".
func CheckName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty %s name", what)
	case len(name) > 128:
		return fmt.Errorf("%s name longer than 128 characters", what)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s name %q contains white space or a control character", what, name)
		}
	}
	return nil
}

// Admin is an administrator of the server's admin API. The API token is
// never stored: only its keyed hash.
type Admin struct {
	ID        int64     `json:"-"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Store) adminHash(token string) []byte {
	return keyedHash(s.hashKey, "keydesk admin token", []byte(token))
}

const adminColumns = `id, name, role, disabled, created_by, created_at`

func scanAdmin(row interface{ Scan(...any) error }, extra ...any) (Admin, error) {
	var a Admin
	var created int64
	err := row.Scan(append([]any{&a.ID, &a.Name, &a.Role, &a.Disabled, &a.CreatedBy, &created}, extra...)...)
	a.CreatedAt = time.Unix(created, 0).UTC()
	return a, err
}

// AddAdmin stores a new administrator with role (one of the roles the
// schema lists) and returns it with its API token, which is shown once and
// never again. [ErrExists] if the name is taken.
func (tx *Tx) AddAdmin(name, role, by string) (Admin, string, error) {
	if err := CheckName("admin", name); err != nil {
		return Admin{}, "", err
	}
	token, err := newCredential(tx.s.currentKeys().rand, AdminTokenPrefix)
	if err != nil {
		return Admin{}, "", err
	}
	a := Admin{Name: name, Role: role, CreatedBy: by, CreatedAt: tx.now.UTC().Truncate(time.Second)}
	if err := tx.nameFree("admins", "admin", name); err != nil {
		return Admin{}, "", err
	}
	id, added, err := tx.insert(`INSERT INTO admins(name, role, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
		name, role, tx.s.adminHash(token), by, a.CreatedAt.Unix())
	switch {
	case isCheck(err):
		return Admin{}, "", fmt.Errorf("admin %q: the inventory knows no role %q", name, role)
	case err != nil:
		return Admin{}, "", err
	case !added:
		return Admin{}, "", fmt.Errorf("admin %q: %w", name, ErrExists)
	}
	a.ID = id
	return a, token, nil
}

// AdminByToken finds the administrator a token belongs to, disabled or
// not; [ErrNotFound] if none. The token is looked up by its keyed hash:
// without the hash key, timing the lookup says nothing about tokens.
func (s *Store) AdminByToken(ctx context.Context, token string) (Admin, error) {
	if len(token) > maxCredential || !strings.HasPrefix(token, AdminTokenPrefix) {
		return Admin{}, fmt.Errorf("not an admin token: %w", ErrNotFound)
	}
	want := s.adminHash(token)
	var stored []byte
	a, err := scanAdmin(s.db.queryRow(ctx, `SELECT `+adminColumns+`, token_hash FROM admins WHERE token_hash = ?`, want), &stored)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !hmac.Equal(stored, want)) {
		return Admin{}, fmt.Errorf("no admin has this token: %w", ErrNotFound)
	}
	return a, err
}

func getAdmin(ctx context.Context, q querier, name string) (Admin, error) {
	a, err := scanAdmin(q.queryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE name = ? COLLATE NOCASE`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Admin{}, fmt.Errorf("no admin named %q: %w", name, ErrNotFound)
	}
	return a, err
}

// Admin reads one administrator by name.
func (s *Store) Admin(ctx context.Context, name string) (Admin, error) {
	return getAdmin(ctx, s.db, name)
}

// Admin reads one administrator by name inside the update.
func (tx *Tx) Admin(name string) (Admin, error) { return getAdmin(tx.ctx, tx, name) }

// Admins lists administrators by name.
func (s *Store) Admins(ctx context.Context) ([]Admin, error) {
	rows, err := s.db.query(ctx, `SELECT `+adminColumns+` FROM admins ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Admin{}
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAdminDisabled disables or enables an administrator; a disabled
// administrator's token is refused.
func (tx *Tx) SetAdminDisabled(id int64, disabled bool) error {
	_, err := tx.exec(tx.ctx, `UPDATE admins SET disabled = ? WHERE id = ?`, disabled, id)
	return err
}

// EnabledAdmins counts the administrators with role who are not disabled.
func (tx *Tx) EnabledAdmins(role string) (int, error) {
	var n int
	err := tx.queryRow(tx.ctx, `SELECT count(*) FROM admins WHERE role = ? AND disabled = 0`, role).Scan(&n)
	return n, err
}
