package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Key is a security key registered to a user: a WebAuthn credential
// of kind [KeyU2F] (registered over U2F under AppID) or [KeyCTAP2]
// (registered over CTAP2 for the relying party RPID).
type Key struct {
	ID   int64  `json:"id"`
	User string `json:"user"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// KeyHandle is the credential id: the U2F key handle of a U2F key.
	KeyHandle []byte `json:"-"`
	// PublicKey is a U2F key's raw P-256 point (0x04 || X || Y); empty
	// for CTAP2 keys.
	PublicKey []byte `json:"-"`
	// COSEKey is the credential public key as a COSE_Key, for keys of
	// both kinds registered since schema 4; Algorithm is its COSE
	// algorithm (-7 ES256, -8 EdDSA).
	COSEKey   []byte `json:"-"`
	Algorithm int64  `json:"algorithm"`
	Counter   uint32 `json:"counter"`
	// AppID is the U2F AppID of a U2F key; RPID the relying party a key
	// was registered for ("example.edu"), empty for keys registered
	// before keydesk knew it.
	AppID string `json:"app_id,omitempty"`
	RPID  string `json:"rp_id,omitempty"`
	// Certificate is the attestation's certificate chain, DER
	// certificates one after the other, the attestation certificate
	// first; empty for self and none attestation.
	Certificate       []byte `json:"-"`
	AttestationFormat string `json:"attestation_format"`
	Attestation       string `json:"attestation"`
	Model             string `json:"model,omitempty"`
	AAGUID            string `json:"aaguid,omitempty"`
	Resident          bool   `json:"resident"`
	// UserVerified: the key verified its user (PIN) at registration.
	UserVerified   bool      `json:"user_verified"`
	BackupEligible bool      `json:"backup_eligible,omitempty"`
	BackupState    bool      `json:"backup_state,omitempty"`
	State          string    `json:"state"`
	StateAt        time.Time `json:"since"`
	LastUsedAt     time.Time `json:"last_used_at,omitzero"`
	CreatedAt      time.Time `json:"registered_at"`
	// Transports are what a browser reported the key reachable by at its
	// registration ("usb", "nfc"); none for a key registered at the desk.
	Transports []string `json:"transports,omitempty"`
}

// Key kinds.
const (
	KeyU2F   = "u2f"
	KeyCTAP2 = "ctap2"
)

// Key states.
const (
	KeyActive  = "active"
	KeyLost    = "lost"
	KeyRemoved = "removed"
)

const keyColumns = `k.id, u.name, k.name, k.kind, k.key_handle, k.public_key, k.cose_key, k.algorithm, k.counter,
	k.app_id, k.rp_id, k.attestation_cert, k.attestation_format, k.attestation, k.model, k.aaguid, k.resident,
	k.user_verified, k.backup_eligible, k.backup_state, k.transports, k.state, k.state_at, k.last_used_at, k.created_at`

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var k Key
	var stateAt, created int64
	var used sql.NullInt64
	var transports string
	err := row.Scan(&k.ID, &k.User, &k.Name, &k.Kind, &k.KeyHandle, &k.PublicKey, &k.COSEKey, &k.Algorithm, &k.Counter,
		&k.AppID, &k.RPID, &k.Certificate, &k.AttestationFormat, &k.Attestation, &k.Model, &k.AAGUID, &k.Resident,
		&k.UserVerified, &k.BackupEligible, &k.BackupState, &transports, &k.State, &stateAt, &used, &created)
	k.StateAt, k.CreatedAt, k.LastUsedAt = time.Unix(stateAt, 0).UTC(), time.Unix(created, 0).UTC(), nullTime(used)
	if transports != "" {
		k.Transports = strings.Split(transports, ",")
	}
	return k, err
}

// queryKeys reads the keys where selects. Inside an update the rows are
// held until it ends: the counter check of a key test reads what another
// server's test of the same key wrote.
func queryKeys(ctx context.Context, q querier, where string, args ...any) ([]Key, error) {
	lock := ""
	if _, ok := q.(*Tx); ok {
		lock = " FOR UPDATE OF k"
	}
	rows, err := q.query(ctx, `SELECT `+keyColumns+` FROM keys k JOIN users u ON u.id = k.user_id WHERE `+where+` ORDER BY k.id`+lock, args...)
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

// ActiveKeys lists every active key of every user, of both kinds: what a
// key plugged in may already hold.
func (s *Store) ActiveKeys(ctx context.Context) ([]Key, error) {
	return queryKeys(ctx, s.db, `k.state = 'active'`)
}

// KeyByCredentialID finds the key, of any user and state, whose
// credential id is id.
func (s *Store) KeyByCredentialID(ctx context.Context, id []byte) (Key, error) {
	return keyByCredentialID(ctx, s.db, id)
}

// KeyByCredentialID finds the key, of any user and state, whose
// credential id is id, inside the update.
func (tx *Tx) KeyByCredentialID(id []byte) (Key, error) { return keyByCredentialID(tx.ctx, tx, id) }

func keyByCredentialID(ctx context.Context, q querier, id []byte) (Key, error) {
	keys, err := queryKeys(ctx, q, `k.key_handle = ?`, id)
	if err != nil {
		return Key{}, err
	}
	if len(keys) == 0 {
		return Key{}, fmt.Errorf("no key with this credential id: %w", ErrNotFound)
	}
	return keys[0], nil
}

// AddKey stores a new registration; [ErrExists] if the key handle is
// known. A key without a kind is a U2F key.
func (tx *Tx) AddKey(userID int64, k Key) (Key, error) {
	k.CreatedAt = tx.now.UTC().Truncate(time.Second)
	k.StateAt, k.State = k.CreatedAt, KeyActive
	if k.Kind == "" {
		k.Kind = KeyU2F
	}
	if k.Algorithm == 0 {
		k.Algorithm = -7 // ES256, the only algorithm of U2F
	}
	if k.AttestationFormat == "" {
		k.AttestationFormat = "fido-u2f"
	}
	id, added, err := tx.insert(`INSERT INTO keys(user_id, name, kind, key_handle, public_key, cose_key, algorithm, counter,
		app_id, rp_id, attestation_cert, attestation_format, attestation, model, aaguid, resident, user_verified,
		backup_eligible, backup_state, transports, state, state_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		userID, k.Name, k.Kind, k.KeyHandle, nonNilBytes(k.PublicKey), nonNilBytes(k.COSEKey), k.Algorithm, k.Counter,
		k.AppID, k.RPID, nonNilBytes(k.Certificate), k.AttestationFormat, k.Attestation, k.Model, k.AAGUID, k.Resident,
		k.UserVerified, k.BackupEligible, k.BackupState, strings.Join(k.Transports, ","), k.State, k.StateAt.Unix(), k.CreatedAt.Unix())
	if err != nil {
		return Key{}, err
	}
	if !added {
		return Key{}, fmt.Errorf("this key handle is already registered: %w", ErrExists)
	}
	k.ID = id
	return k, nil
}

// nonNilBytes keeps a NOT NULL blob column from receiving NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// RecordKeyUse stores the counter of a verified authentication.
func (tx *Tx) RecordKeyUse(id int64, counter uint32) error {
	_, err := tx.exec(tx.ctx, `UPDATE keys SET counter = ?, last_used_at = ? WHERE id = ?`, counter, tx.now.Unix(), id)
	return err
}

// SetKeyBackupState stores the backup state (WebAuthn §6.1 flag BS) a
// key's verified login reported: a passkey synced to another device
// since it registered says so here.
func (tx *Tx) SetKeyBackupState(id int64, backedUp bool) error {
	_, err := tx.exec(tx.ctx, `UPDATE keys SET backup_state = ? WHERE id = ?`, backedUp, id)
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
