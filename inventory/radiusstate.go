package inventory

import (
	"database/sql"
	"errors"
	"time"
)

// RADIUSState is a challenge handed to a RADIUS client: the user whose
// password was right, and the client that asked.
type RADIUSState struct {
	User      string
	Client    string
	ExpiresAt time.Time
}

// AddRADIUSState stores a challenge under state's keyed hash (the state
// itself is not stored), and drops the ones that expired.
func (tx *Tx) AddRADIUSState(state []byte, st RADIUSState) error {
	if _, err := tx.exec(tx.ctx, `DELETE FROM radius_states WHERE expires_at <= ?`, tx.now.Unix()); err != nil {
		return err
	}
	_, err := tx.exec(tx.ctx, `INSERT INTO radius_states(hash, username, client, expires_at) VALUES (?, ?, ?, ?)`,
		tx.s.stateHash(state), st.User, st.Client, st.ExpiresAt.Unix())
	return err
}

// TakeRADIUSState removes the challenge of state and returns it: a state
// answers once. found is false for a state never handed out, already
// used, or expired.
func (tx *Tx) TakeRADIUSState(state []byte) (st RADIUSState, found bool, err error) {
	var exp int64
	err = tx.queryRow(tx.ctx, `DELETE FROM radius_states WHERE hash = ? RETURNING username, client, expires_at`,
		tx.s.stateHash(state)).Scan(&st.User, &st.Client, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return RADIUSState{}, false, nil
	}
	if err != nil {
		return RADIUSState{}, false, err
	}
	st.ExpiresAt = time.Unix(exp, 0).UTC()
	if !tx.now.Before(st.ExpiresAt) {
		return RADIUSState{}, false, nil
	}
	return st, true, nil
}

func (s *Store) stateHash(state []byte) []byte {
	return keyedHash(s.hashKey, "keydesk radius state", state)
}
