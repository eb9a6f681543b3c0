package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Key is a U2F security key registered to a user.
type Key struct {
	ID          int64     `json:"id"`
	User        string    `json:"user"`
	Name        string    `json:"name"`
	KeyHandle   []byte    `json:"-"`
	PublicKey   []byte    `json:"-"`
	Counter     uint32    `json:"counter"`
	AppID       string    `json:"app_id"`
	Certificate []byte    `json:"-"`
	Attestation string    `json:"attestation"`
	Model       string    `json:"model,omitempty"`
	AAGUID      string    `json:"aaguid,omitempty"`
	State       string    `json:"state"`
	StateAt     time.Time `json:"since"`
	LastUsedAt  time.Time `json:"last_used_at,omitzero"`
	CreatedAt   time.Time `json:"registered_at"`
}

// Key states.
const (
	KeyActive  = "active"
	KeyLost    = "lost"
	KeyRemoved = "removed"
)

const keyColumns = `k.id, u.name, k.name, k.key_handle, k.public_key, k.counter, k.app_id, k.attestation_cert,
	k.attestation, k.model, k.aaguid, k.state, k.state_at, k.last_used_at, k.created_at`

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var k Key
	var stateAt, created int64
	var used sql.NullInt64
	err := row.Scan(&k.ID, &k.User, &k.Name, &k.KeyHandle, &k.PublicKey, &k.Counter, &k.AppID, &k.Certificate,
		&k.Attestation, &k.Model, &k.AAGUID, &k.State, &stateAt, &used, &created)
	k.StateAt, k.CreatedAt, k.LastUsedAt = time.Unix(stateAt, 0).UTC(), time.Unix(created, 0).UTC(), nullTime(used)
	return k, err
}

func queryKeys(ctx context.Context, q querier, where string, args ...any) ([]Key, error) {
	rows, err := q.query(ctx, `SELECT `+keyColumns+` FROM keys k JOIN users u ON u.id = k.user_id WHERE `+where+` ORDER BY k.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// UserKeys lists a user's keys that are not removed.
func (s *Store) UserKeys(ctx context.Context, user string) ([]Key, error) {
	return queryKeys(ctx, s.db, `u.name = ? COLLATE NOCASE AND k.state != 'removed'`, user)
}

// UserKeys lists a user's active keys inside the update.
func (tx *Tx) UserKeys(userID int64) ([]Key, error) {
	return queryKeys(tx.ctx, tx, `k.user_id = ? AND k.state = 'active'`, userID)
}

// RegisteredKeys lists every active key of an app id, of every user, so a
// key can be checked against all of them before it is registered again.
func (s *Store) RegisteredKeys(ctx context.Context, appID string) ([]Key, error) {
	return queryKeys(ctx, s.db, `k.app_id = ? AND k.state = 'active'`, appID)
}

// AddKey stores a new registration; [ErrExists] if the key handle is known.
func (tx *Tx) AddKey(userID int64, k Key) (Key, error) {
	k.CreatedAt = tx.now.UTC().Truncate(time.Second)
	k.StateAt, k.State = k.CreatedAt, KeyActive
	res, err := tx.exec(tx.ctx, `INSERT INTO keys(user_id, name, key_handle, public_key, counter, app_id,
		attestation_cert, attestation, model, aaguid, state, state_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		userID, k.Name, k.KeyHandle, k.PublicKey, k.Counter, k.AppID, k.Certificate, k.Attestation, k.Model, k.AAGUID,
		k.State, k.StateAt.Unix(), k.CreatedAt.Unix())
	if isUnique(err) {
		return Key{}, fmt.Errorf("this key handle is already registered: %w", ErrExists)
	}
	if err != nil {
		return Key{}, err
	}
	k.ID, _ = res.LastInsertId()
	return k, nil
}

// RecordKeyUse stores the counter of a verified authentication.
func (tx *Tx) RecordKeyUse(id int64, counter uint32) error {
	_, err := tx.exec(tx.ctx, `UPDATE keys SET counter = ?, last_used_at = ? WHERE id = ?`, counter, tx.now.Unix(), id)
	return err
}

// SetKeyState marks a key lost or removed; it stays on record.
func (tx *Tx) SetKeyState(id int64, state string) error {
	_, err := tx.exec(tx.ctx, `UPDATE keys SET state = ?, state_at = ? WHERE id = ?`, state, tx.now.Unix(), id)
	return err
}

// UserKey finds one of a user's keys by id or name.
func (tx *Tx) UserKey(userID int64, ref string) (Key, error) {
	keys, err := queryKeys(tx.ctx, tx, `k.user_id = ? AND k.state != 'removed' AND (k.name = ? OR CAST(k.id AS TEXT) = ?)`, userID, ref, ref)
	if err != nil {
		return Key{}, err
	}
	switch len(keys) {
	case 0:
		return Key{}, fmt.Errorf("no key %q: %w", ref, ErrNotFound)
	case 1:
		return keys[0], nil
	}
	return Key{}, errors.New("several keys are named " + ref + "; give the key's number instead")
}
