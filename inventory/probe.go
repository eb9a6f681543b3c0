package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
)

// SealedFingerprint reads which master key sealed the inventory at path,
// without needing the key, so that a message can name the key to restore.
func SealedFingerprint(ctx context.Context, path string) (string, error) {
	if isPostgresURL(path) {
		return pgFingerprint(ctx, path)
	}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var fp string
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'master_key_fingerprint'`).Scan(&fp); err != nil {
		return "", fmt.Errorf("%s: %w", path, ErrNotInventory)
	}
	return fp, nil
}
