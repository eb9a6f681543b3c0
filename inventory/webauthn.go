package inventory

import (
	"context"
	"database/sql"
	"encoding/binary"
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
	CreatedAt time.Time
	ExpiresAt time.Time
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
	_, err := tx.exec(tx.ctx, `INSERT INTO webauthn_ceremonies(id_hash, purpose, user_id, bound_to, challenge, key_ids, app_id, require_uv, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tx.w.s.ceremonyHash(id), c.Purpose, c.UserID, c.BoundTo, c.Challenge,
		strings.Join(ids, ","), c.AppID, c.RequireUV, tx.now.Unix(), c.ExpiresAt.Unix())
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
		w.created_at, w.expires_at, w.used_at FROM webauthn_ceremonies w JOIN users u ON u.id = w.user_id WHERE w.id_hash = ?`,
		tx.w.s.ceremonyHash(id)).Scan(&c.ID, &c.Purpose, &c.UserID, &c.User, &c.BoundTo, &c.Challenge, &keys, &c.AppID,
		&c.RequireUV, &created, &expires, &used)
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

// WebAuthnKey is a security key as a WebAuthn login needs it: the key's
// row, and for a key registered through a browser what the registration
// told. A key registered at the desk over U2F has no RPID: it answers
// under its AppID.
type WebAuthnKey struct {
	Key
	RPID           string   `json:"rp_id,omitempty"`  // the relying party of a browser-registered key; "" for a U2F one
	Algorithm      int64    `json:"-"`                // COSE algorithm of PublicKey when RPID is set
	Format         string   `json:"format,omitempty"` // attestation statement format
	UserVerified   bool     `json:"user_verified"`    // the key verified its user at registration
	BackupEligible bool     `json:"-"`
	BackupState    bool     `json:"-"`
	Transports     []string `json:"transports,omitempty"`
}

// IsWebAuthn reports a key registered through a browser, whose PublicKey
// is a COSE key; otherwise it is a U2F point.
func (k *WebAuthnKey) IsWebAuthn() bool { return k.RPID != "" }

const webauthnKeyColumns = keyColumns + `, coalesce(w.rp_id, ''), coalesce(w.algorithm, 0), coalesce(w.format, ''),
	coalesce(w.user_verified, 0), coalesce(w.backup_eligible, 0), coalesce(w.backup_state, 0), coalesce(w.transports, '')`

func queryWebAuthnKeys(ctx context.Context, q querier, where string, args ...any) ([]WebAuthnKey, error) {
	rows, err := q.query(ctx, `SELECT `+webauthnKeyColumns+` FROM keys k JOIN users u ON u.id = k.user_id
		LEFT JOIN webauthn_keys w ON w.key_id = k.id WHERE `+where+` ORDER BY k.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WebAuthnKey
	for rows.Next() {
		var k WebAuthnKey
		var stateAt, created int64
		var used sql.NullInt64
		var transports string
		err := rows.Scan(&k.ID, &k.User, &k.Name, &k.KeyHandle, &k.PublicKey, &k.Counter, &k.AppID, &k.Certificate,
			&k.Attestation, &k.Model, &k.AAGUID, &k.State, &stateAt, &used, &created,
			&k.RPID, &k.Algorithm, &k.Format, &k.UserVerified, &k.BackupEligible, &k.BackupState, &transports)
		if err != nil {
			return nil, err
		}
		k.StateAt, k.CreatedAt, k.LastUsedAt = time.Unix(stateAt, 0).UTC(), time.Unix(created, 0).UTC(), nullTime(used)
		if transports != "" {
			k.Transports = strings.Split(transports, ",")
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// UserWebAuthnKeys lists a user's keys that are not removed, with their
// WebAuthn details.
func (s *Store) UserWebAuthnKeys(ctx context.Context, user string) ([]WebAuthnKey, error) {
	return queryWebAuthnKeys(ctx, s.db, `u.name = ? COLLATE NOCASE AND k.state != 'removed'`, user)
}

// UserWebAuthnKeys lists a user's keys that are not removed, inside the update.
func (tx *Tx) UserWebAuthnKeys(userID int64) ([]WebAuthnKey, error) {
	return queryWebAuthnKeys(tx.ctx, tx, `k.user_id = ? AND k.state != 'removed'`, userID)
}

// KeyByHandle finds a key of any user, in any state but removed, by its
// credential id (key handle); [ErrNotFound] if none.
func (tx *Tx) KeyByHandle(handle []byte) (WebAuthnKey, error) {
	keys, err := queryWebAuthnKeys(tx.ctx, tx, `k.key_handle = ? AND k.state != 'removed'`, handle)
	if err != nil {
		return WebAuthnKey{}, err
	}
	if len(keys) == 0 {
		return WebAuthnKey{}, fmt.Errorf("no key with this credential id: %w", ErrNotFound)
	}
	return keys[0], nil
}

// AddWebAuthnKey stores a key registered through a browser: its row in
// keys, and what the registration told.
func (tx *Tx) AddWebAuthnKey(userID int64, k WebAuthnKey) (WebAuthnKey, error) {
	k.AppID = ""
	if k.Certificate == nil {
		k.Certificate = []byte{}
	}
	row, err := tx.AddKey(userID, k.Key)
	if err != nil {
		return WebAuthnKey{}, err
	}
	k.Key = row
	_, err = tx.exec(tx.ctx, `INSERT INTO webauthn_keys(key_id, rp_id, algorithm, format, user_verified, backup_eligible, backup_state, transports)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.RPID, k.Algorithm, k.Format, k.UserVerified, k.BackupEligible, k.BackupState,
		strings.Join(k.Transports, ","))
	if err != nil {
		return WebAuthnKey{}, err
	}
	return k, nil
}

// RecordWebAuthnUse stores the signature counter and backup state of a
// verified login.
func (tx *Tx) RecordWebAuthnUse(id int64, counter uint32, backupState bool) error {
	if err := tx.RecordKeyUse(id, counter); err != nil {
		return err
	}
	_, err := tx.exec(tx.ctx, `UPDATE webauthn_keys SET backup_state = ? WHERE key_id = ?`, backupState, id)
	return err
}

// RenameKey gives a key a new name.
func (tx *Tx) RenameKey(id int64, name string) error {
	_, err := tx.exec(tx.ctx, `UPDATE keys SET name = ? WHERE id = ?`, name, id)
	return err
}

// UserHandle is the WebAuthn user handle of a user (WebAuthn §14.6.1: no
// name or address in it): a keyed hash of the user's row id, the same on
// every server and for the user's whole life.
func (s *Store) UserHandle(userID int64) []byte {
	return keyedHash(s.hashKey, "keydesk webauthn user handle", binary.BigEndian.AppendUint64(nil, uint64(userID)))[:16]
}
