package inventory

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuthEntry is one decision of the authentication log: who tried, with
// which factor, from where, and what was decided and why. It never holds
// what was typed.
type AuthEntry struct {
	ID             int64     `json:"id"`
	At             time.Time `json:"at"`
	User           string    `json:"user"`
	Factor         string    `json:"factor,omitempty"` // "fob F100", `key #2 "blue"`, "bypass code #4"
	Transport      string    `json:"transport"`        // cli, http, radius, web
	App            string    `json:"app,omitempty"`    // the application or RADIUS client that asked
	Source         string    `json:"source,omitempty"` // the caller's address, or the clerk at the CLI
	NASIdentifier  string    `json:"nas_identifier,omitempty"`
	NASIP          string    `json:"nas_ip,omitempty"`
	CallingStation string    `json:"calling_station,omitempty"`
	Result         string    `json:"result"` // allow or deny
	ReasonCode     string    `json:"reason_code"`
	Reason         string    `json:"reason"`
}

// maxAuthField bounds what one field of an entry keeps: the values come
// from requests, and the log must not be a way to fill the disk.
const maxAuthField = 256

func clip(s string) string {
	if len(s) <= maxAuthField {
		return s
	}
	cut := maxAuthField
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// LogAuth appends a decision to the authentication log, in the decision's
// own transaction.
func (tx *Tx) LogAuth(e AuthEntry) error {
	_, err := tx.exec(tx.ctx, `INSERT INTO auth_log(at, username, factor, transport, app, source, nas_identifier, nas_ip,
		calling_station, result, reason_code, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tx.now.Unix(), clip(e.User), clip(e.Factor), clip(e.Transport), clip(e.App), clip(e.Source), clip(e.NASIdentifier),
		clip(e.NASIP), clip(e.CallingStation), e.Result, clip(e.ReasonCode), clip(e.Reason))
	if err != nil {
		return fmt.Errorf("failed to write the authentication log: %w", err)
	}
	return nil
}

// AuthFilter selects entries of the authentication log. Zero fields
// select everything; Before pages: entries with an id below it.
type AuthFilter struct {
	User   string
	App    string
	Result string // allow or deny
	Since  time.Time
	Before int64
	Limit  int // at most this many; DefaultAuthLimit when 0
}

// DefaultAuthLimit and MaxAuthLimit bound one page of the log.
const (
	DefaultAuthLimit = 100
	MaxAuthLimit     = 10_000
)

const authColumns = `id, at, username, factor, transport, app, source, nas_identifier, nas_ip, calling_station, result, reason_code, reason`

// AuthLog reads the entries a filter selects, newest first.
func (s *Store) AuthLog(ctx context.Context, f AuthFilter) ([]AuthEntry, error) {
	var where []string
	var args []any
	if f.User != "" {
		where, args = append(where, "username = ? COLLATE NOCASE"), append(args, f.User)
	}
	if f.App != "" {
		where, args = append(where, "app = ?"), append(args, f.App)
	}
	if f.Result != "" {
		where, args = append(where, "result = ?"), append(args, f.Result)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.Unix())
	}
	if f.Before > 0 {
		// Pages go by id. On PostgreSQL ids are taken at insert, not at
		// commit, so with several servers a page may pass over a row
		// committed late with a lower id: the next query from the top
		// shows it. Good enough for a log read by people.
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuthLimit
	}
	q := `SELECT ` + authColumns + ` FROM auth_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, min(limit, MaxAuthLimit))
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuthEntry
	for rows.Next() {
		var e AuthEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.User, &e.Factor, &e.Transport, &e.App, &e.Source, &e.NASIdentifier, &e.NASIP,
			&e.CallingStation, &e.Result, &e.ReasonCode, &e.Reason); err != nil {
			return nil, err
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneAuthLog removes up to max entries older than before, oldest first,
// and says how many. Old entries sit at the low ids, so the scan is short.
func (tx *Tx) PruneAuthLog(before time.Time, max int) (int, error) {
	res, err := tx.exec(tx.ctx, `DELETE FROM auth_log WHERE id IN
		(SELECT id FROM auth_log WHERE at < ? ORDER BY id LIMIT ?)`, before.Unix(), max)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
