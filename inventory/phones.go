package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PhoneApp is an authenticator app on a user's phone: a TOTP seed shown
// to the user once. Pending, it waits for its first right code; paired,
// it is the fob FobSerial, which answers like any other fob of the user
// and is lost or revoked as fobs are.
type PhoneApp struct {
	ID        int64     `json:"id"`
	User      string    `json:"user"`
	State     string    `json:"state"` // see the PhoneApp states
	FobSerial string    `json:"fob,omitempty"`
	Issuer    string    `json:"issuer"`
	Account   string    `json:"account"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when a pending phone app can no longer be paired.
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	StateAt    time.Time `json:"since"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// LinkID is the activation link the phone app was made through, if any.
	LinkID int64 `json:"-"`
}

// PhoneApp states. Active, lost and removed are those of its fob
// (assigned, lost, revoked).
const (
	PhonePending   = "pending"   // shown, no right code yet
	PhoneAbandoned = "abandoned" // replaced or expired before its first code
	PhoneActive    = "active"
	PhoneLost      = "lost"
	PhoneRemoved   = "removed"
)

// PhoneSerial is the serial of the fob a paired phone app becomes.
func PhoneSerial(id int64) string { return fmt.Sprintf("phone-%d", id) }

func phoneRow(id int64) string { return fmt.Sprintf("phone/%d/secret", id) }

const phoneColumns = `p.id, u.name, p.state, coalesce(f.serial, ''), coalesce(f.state, ''), p.issuer, p.account,
	p.created_by, p.created_at, p.expires_at, p.state_at, f.state_at, f.last_used_at, coalesce(p.link_id, 0)`

const phoneFrom = ` FROM phone_apps p JOIN users u ON u.id = p.user_id LEFT JOIN fobs f ON f.id = p.fob_id `

func scanPhone(row interface{ Scan(...any) error }, extra ...any) (PhoneApp, error) {
	var p PhoneApp
	var fobState string
	var created, expires, stateAt int64
	var fobAt, used sql.NullInt64
	dest := []any{&p.ID, &p.User, &p.State, &p.FobSerial, &fobState, &p.Issuer, &p.Account,
		&p.CreatedBy, &created, &expires, &stateAt, &fobAt, &used, &p.LinkID}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return PhoneApp{}, err
	}
	p.CreatedAt, p.StateAt = time.Unix(created, 0).UTC(), time.Unix(stateAt, 0).UTC()
	p.LastUsedAt = nullTime(used)
	if p.State == PhonePending {
		p.ExpiresAt = time.Unix(expires, 0).UTC()
	}
	if p.State == "paired" {
		p.State = map[State]string{Assigned: PhoneActive, Lost: PhoneLost, Revoked: PhoneRemoved, InStock: PhoneRemoved}[State(fobState)]
		p.StateAt = nullTime(fobAt)
	}
	return p, nil
}

// PhoneApps lists a user's phone apps, pending and abandoned ones too,
// oldest first.
func (s *Store) PhoneApps(ctx context.Context, user string) ([]PhoneApp, error) {
	rows, err := s.db.query(ctx, `SELECT `+phoneColumns+phoneFrom+`WHERE u.name = ? COLLATE NOCASE ORDER BY p.id`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PhoneApp
	for rows.Next() {
		p, err := scanPhone(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PhoneApp reads one of a user's phone apps inside the update.
func (tx *Tx) PhoneApp(userID, id int64) (PhoneApp, error) {
	p, err := scanPhone(tx.queryRow(tx.ctx, `SELECT `+phoneColumns+phoneFrom+`WHERE p.user_id = ? AND p.id = ?`, userID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return PhoneApp{}, fmt.Errorf("no phone app #%d: %w", id, ErrNotFound)
	}
	return p, err
}

// PhoneAppOfFob is the phone app a fob is, if it is one.
func (tx *Tx) PhoneAppOfFob(fobID int64) (PhoneApp, bool, error) {
	p, err := scanPhone(tx.queryRow(tx.ctx, `SELECT `+phoneColumns+phoneFrom+`WHERE p.fob_id = ?`, fobID))
	if errors.Is(err, sql.ErrNoRows) {
		return PhoneApp{}, false, nil
	}
	return p, err == nil, err
}

// AddPhoneApp stores a pending phone app with its seed sealed, pairable
// until expires. Any other pending phone app of the user is abandoned:
// one seed at a time waits for its first code.
func (tx *Tx) AddPhoneApp(userID int64, secret []byte, issuer, account, by string, expires time.Time, linkID int64) (PhoneApp, error) {
	if _, err := tx.exec(tx.ctx, `UPDATE phone_apps SET state = 'abandoned', secret = NULL, state_at = ?
		WHERE user_id = ? AND state = 'pending'`, tx.now.Unix(), userID); err != nil {
		return PhoneApp{}, err
	}
	var link any
	if linkID != 0 {
		link = linkID
	}
	k, err := tx.sealer()
	if err != nil {
		return PhoneApp{}, err
	}
	var id int64
	err = tx.queryRow(tx.ctx, `INSERT INTO phone_apps(user_id, secret, state, issuer, account, link_id, created_by, created_at, expires_at, state_at)
		VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?) RETURNING id`, userID, []byte{}, issuer, account, link, by, tx.now.Unix(), expires.Unix(), tx.now.Unix()).Scan(&id)
	if err != nil {
		return PhoneApp{}, err
	}
	sealed, err := k.sealValue(secret, phoneRow(id))
	if err != nil {
		return PhoneApp{}, err
	}
	if _, err := tx.exec(tx.ctx, `UPDATE phone_apps SET secret = ? WHERE id = ?`, sealed, id); err != nil {
		return PhoneApp{}, err
	}
	return tx.PhoneApp(userID, id)
}

// PendingPhoneSecret opens the seed of a pending phone app.
func (tx *Tx) PendingPhoneSecret(id int64) ([]byte, error) {
	var sealed []byte
	err := tx.queryRow(tx.ctx, `SELECT secret FROM phone_apps WHERE id = ? AND state = 'pending'`, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("phone app #%d is not waiting for its first code: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return tx.s.currentKeys().openValue(sealed, phoneRow(id))
}

// PairPhoneApp records that a pending phone app gave its first right
// code and became fob fobID; the seed now lives in the fob's row only.
func (tx *Tx) PairPhoneApp(id, fobID int64) error {
	res, err := tx.exec(tx.ctx, `UPDATE phone_apps SET state = 'paired', fob_id = ?, secret = NULL, state_at = ?
		WHERE id = ? AND state = 'pending'`, fobID, tx.now.Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("phone app #%d is not waiting for its first code: %w", id, ErrNotFound)
	}
	return nil
}

// AbandonPhoneApp ends a pending phone app without pairing it; its seed
// is forgotten.
func (tx *Tx) AbandonPhoneApp(id int64) error {
	_, err := tx.exec(tx.ctx, `UPDATE phone_apps SET state = 'abandoned', secret = NULL, state_at = ? WHERE id = ? AND state = 'pending'`,
		tx.now.Unix(), id)
	return err
}

// FobID is the row id of a fob, for the rows that refer to it.
func (tx *Tx) FobID(serial string) (int64, error) {
	var id int64
	err := tx.queryRow(tx.ctx, `SELECT id FROM fobs WHERE serial = ?`, serial).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("no fob with serial %q: %w", serial, ErrNotFound)
	}
	return id, err
}

// resealPhoneApps seals the seeds of pending phone apps again under nk.
// [Store.Rekey] must call it, or those seeds stop opening after a rekey.
func resealPhoneApps(tx *Tx, old, nk *keyring) error {
	return tx.reseal(old, nk, `SELECT id, '', secret FROM phone_apps WHERE state = 'pending' AND secret IS NOT NULL`,
		`UPDATE phone_apps SET secret = ? WHERE id = ?`, func(id int64, _ string) string { return phoneRow(id) })
}
