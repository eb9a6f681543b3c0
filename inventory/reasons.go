package inventory

import "context"

// SetDisabledReason keeps why a user was disabled, as the clerk gave it;
// an empty reason clears it, as enabling the user does.
func (tx *Tx) SetDisabledReason(userID int64, reason string) error {
	_, err := tx.exec(tx.ctx, `UPDATE users SET disabled_reason = ? WHERE id = ?`, reason, userID)
	return err
}

// DisabledReason is why a user was disabled; empty when no reason was
// given or the user is enabled.
func (s *Store) DisabledReason(ctx context.Context, userID int64) (string, error) {
	var reason string
	err := s.db.queryRow(ctx, `SELECT disabled_reason FROM users WHERE id = ?`, userID).Scan(&reason)
	return reason, err
}
