package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// State is where a fob is in its life at the help desk.
type State string

const (
	InStock  State = "stock"    // on the shelf, nobody holds it
	Assigned State = "assigned" // a user holds it
	Lost     State = "lost"     // reported lost or stolen: refused, kept on record
	Revoked  State = "revoked"  // taken out of service for good
)

// ParseState accepts the state names the CLI shows.
func ParseState(s string) (State, error) {
	switch st := State(strings.ToLower(s)); st {
	case InStock, Assigned, Lost, Revoked:
		return st, nil
	case "in-stock", "instock":
		return InStock, nil
	}
	return "", fmt.Errorf("unknown fob state %q (want stock, assigned, lost or revoked)", s)
}

// Fob is a fob as the inventory keeps it. Its Token's Secret and PrivateID
// are filled only by the reads that say so.
type Fob struct {
	ID         int64
	Token      fob.Token
	State      State
	StateAt    time.Time
	User       string // the holder's name; kept when the fob is lost
	Batch      string
	FailCount  int
	LockedAt   time.Time
	LastStep   int64 // TOTP: the last step accepted; valid when HasLastStep
	HasLast    bool
	LastUsedAt time.Time
	CreatedAt  time.Time
	// StateReason is why the fob was reported lost or revoked, as the
	// clerk gave it; empty for the other states.
	StateReason string
}

// Locked reports whether failures locked the fob.
func (f *Fob) Locked() bool { return !f.LockedAt.IsZero() }

// fobColumns reads the holder's and batch's names with scalar subqueries,
// not joins: SQLite re-prepares a joined query each time its parameter
// changes, which cost more than the rest of a verification together.
const fobColumns = `f.id, f.serial, f.kind, f.algorithm, f.digits, f.period, f.t0, f.counter, f.drift,
	f.last_step, coalesce(f.public_id, ''), f.state, f.state_at,
	coalesce((SELECT name FROM users WHERE id = f.user_id), ''),
	coalesce((SELECT name FROM batches WHERE id = f.batch_id), ''),
	f.fail_count, f.locked_at, f.last_used_at, f.manufacturer, f.model, f.key_id, f.created_at,
	f.not_before, f.not_after, f.state_reason`

const fobFrom = ` FROM fobs f `

// checkColumns are fobColumns without the holder's and batch's names,
// which a verification never needs: the hot path reads one row.
var checkColumns = strings.NewReplacer(
	"coalesce((SELECT name FROM users WHERE id = f.user_id), '')", "''",
	"coalesce((SELECT name FROM batches WHERE id = f.batch_id), '')", "''",
	"f.state_reason", "''",
).Replace(fobColumns)

func scanFob(row interface{ Scan(...any) error }, extra ...any) (Fob, error) {
	var f Fob
	var kind, alg string
	var counter int64
	var last, locked, used, notBefore, notAfter sql.NullInt64
	var stateAt, created int64
	dest := []any{&f.ID, &f.Token.Serial, &kind, &alg, &f.Token.Digits, &f.Token.Period, &f.Token.T0,
		&counter, &f.Token.Drift, &last, &f.Token.PublicID, &f.State, &stateAt, &f.User, &f.Batch,
		&f.FailCount, &locked, &used, &f.Token.Manufacturer, &f.Token.Model, &f.Token.KeyID, &created,
		&notBefore, &notAfter, &f.StateReason}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return Fob{}, err
	}
	f.Token.Kind = fob.Kind(kind)
	f.Token.Algorithm = fob.Algorithm(alg)
	// SQLite integers are signed; HOTP counters use the full 64 bits.
	f.Token.Counter = uint64(counter)
	f.LastStep, f.HasLast = last.Int64, last.Valid
	f.LockedAt, f.LastUsedAt = nullTime(locked), nullTime(used)
	f.StateAt, f.CreatedAt = time.Unix(stateAt, 0).UTC(), time.Unix(created, 0).UTC()
	f.Token.NotBefore, f.Token.NotAfter = nullTime(notBefore), nullTime(notAfter)
	f.Token.User = f.User
	return f, nil
}

func fobRow(serial, what string) string { return "fob/" + serial + "/" + what }

func (s *Store) getFob(ctx context.Context, q querier, where string, arg any, secrets bool) (Fob, error) {
	return s.readFob(ctx, q, fobColumns, where, arg, secrets)
}

func (s *Store) readFob(ctx context.Context, q querier, columns, where string, arg any, secrets bool) (Fob, error) {
	query := `SELECT ` + columns + `, f.secret, f.private_id` + fobFrom + `WHERE ` + where
	var secret, priv []byte
	f, err := scanFob(q.queryRow(ctx, query, arg), &secret, &priv)
	if errors.Is(err, sql.ErrNoRows) {
		return Fob{}, ErrNotFound
	}
	if err != nil || !secrets {
		return f, err
	}
	if err := s.openSecrets(&f, secret, priv); err != nil {
		return Fob{}, err
	}
	return f, nil
}

// openSecrets opens the sealed seed (or AES key) and private id of f.
func (s *Store) openSecrets(f *Fob, secret, priv []byte) (err error) {
	if f.Token.Secret, err = s.currentKeys().openValue(secret, fobRow(f.Token.Serial, "secret")); err != nil {
		return err
	}
	if priv != nil {
		if f.Token.PrivateID, err = s.currentKeys().openValue(priv, fobRow(f.Token.Serial, "private_id")); err != nil {
			return err
		}
	}
	return nil
}

func notFound(err error, serial string) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("no fob with serial %q: %w", serial, ErrNotFound)
	}
	return err
}

// Fob reads one fob by serial, without its secrets.
func (s *Store) Fob(ctx context.Context, serial string) (Fob, error) {
	f, err := s.getFob(ctx, s.db, "f.serial = ?", serial, false)
	return f, notFound(err, serial)
}

// Fob reads one fob by serial inside the update, with its secrets opened.
func (tx *Tx) Fob(serial string) (Fob, error) {
	f, err := tx.s.getFob(tx.ctx, tx, "f.serial = ? FOR UPDATE OF f", serial, true)
	return f, notFound(err, serial)
}

// FobToCheck reads a fob by serial for a verification: with its secrets,
// without its holder's and batch's names (User and Batch stay empty).
// The row stays locked until the update ends, so that of two servers
// checking one code the second reads what the first wrote: one code, one
// allow.
func (tx *Tx) FobToCheck(serial string) (Fob, error) {
	f, err := tx.s.readFob(tx.ctx, tx, checkColumns, "f.serial = ? FOR UPDATE OF f", serial, true)
	return f, notFound(err, serial)
}

// UserFobs reads the fobs a user holds or held, with their secrets, for
// a verification (without holder and batch names). Each is read by
// FobToCheck, and so held, in serial order: two updates of one user's
// fobs lock them in the same order. (One statement for all of them, with
// ORDER BY over whole rows, cost SQLite three times as much.)
func (tx *Tx) UserFobs(userID int64) ([]Fob, error) {
	rows, err := tx.query(tx.ctx, `SELECT f.serial FROM fobs f WHERE f.user_id = ? ORDER BY f.serial`, userID)
	if err != nil {
		return nil, err
	}
	var serials []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		serials = append(serials, s)
	}
	rows.Close()
	out := make([]Fob, 0, len(serials))
	for _, s := range serials {
		f, err := tx.FobToCheck(s)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// FobFilter selects fobs in [Store.Fobs]; empty fields select all.
type FobFilter struct {
	State State
	User  string
	Batch string
	After string // page: serials after this one
	Limit int
}

// Fobs lists fobs by serial, without secrets; fn is called for each so
// that a listing of the whole inventory stays small in memory.
func (s *Store) Fobs(ctx context.Context, filter FobFilter, fn func(Fob) error) error {
	q, args := fobQuery(`SELECT `+fobColumns+fobFrom, filter)
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFob(rows)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// fobQuery completes a query of fobs with the filter's conditions.
func fobQuery(q string, filter FobFilter) (string, []any) {
	where, args := fobWhere(filter)
	q += where
	q += " ORDER BY f.serial"
	if filter.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", filter.Limit)
	}
	return q, args
}

// fobWhere is the WHERE clause of the filter's conditions, if any.
func fobWhere(filter FobFilter) (string, []any) {
	var where []string
	var args []any
	if filter.State != "" {
		where, args = append(where, "f.state = ?"), append(args, filter.State)
	}
	if filter.User != "" {
		where, args = append(where, "f.user_id = (SELECT id FROM users WHERE name = ? COLLATE NOCASE)"), append(args, filter.User)
	}
	if filter.Batch != "" {
		where, args = append(where, "f.batch_id = (SELECT id FROM batches WHERE name = ?)"), append(args, filter.Batch)
	}
	if filter.After != "" {
		where, args = append(where, "f.serial > ?"), append(args, filter.After)
	}
	if len(where) == 0 {
		return "", nil
	}
	return "WHERE " + strings.Join(where, " AND "), args
}

// FobCounts counts fobs by state.
func (s *Store) FobCounts(ctx context.Context) (map[State]int, error) {
	rows, err := s.db.query(ctx, `SELECT state, count(*) FROM fobs GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[State]int{}
	for rows.Next() {
		var st State
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// AddFob stores a new fob in stock, or assigned when userID is not zero.
// The token must be valid; its secrets are sealed to the fob's serial.
// [ErrExists] if the serial (or Yubico public id) is already stored.
func (tx *Tx) AddFob(t fob.Token, batchID, userID int64) error {
	if err := t.Validate(); err != nil {
		return err
	}
	k, err := tx.sealer()
	if err != nil {
		return err
	}
	secret, err := k.sealValue(t.Secret, fobRow(t.Serial, "secret"))
	if err != nil {
		return err
	}
	var priv, pub, batch, user, lastStep any
	if t.Kind == fob.Yubico {
		if priv, err = k.sealValue(t.PrivateID, fobRow(t.Serial, "private_id")); err != nil {
			return err
		}
		if t.PublicID != "" {
			pub = strings.ToLower(t.PublicID)
		}
	}
	if batchID != 0 {
		batch = batchID
	}
	state := InStock
	if userID != 0 {
		user, state = userID, Assigned
	}
	// Not tx.insert: the fob's id is not needed, and an INSERT … RETURNING
	// costs SQLite twice a plain one, which halved imports.
	added, err := tx.insertOnly(`INSERT INTO fobs(serial, kind, algorithm, digits, period, t0, counter, drift,
		last_step, public_id, secret, private_id, state, state_at, user_id, batch_id, manufacturer, model, key_id, created_at,
		not_before, not_after, seed_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Serial, t.Kind, t.Algorithm, t.Digits, t.Period, t.T0, int64(t.Counter), t.Drift,
		lastStep, pub, secret, priv, state, tx.now.Unix(), user, batch, t.Manufacturer, t.Model, t.KeyID, tx.now.Unix(),
		unixOrNil(t.NotBefore), unixOrNil(t.NotAfter), tx.s.seedHash(t.Secret))
	if err != nil || added {
		return err
	}
	if pub != nil {
		var n int
		if err := tx.queryRow(tx.ctx, `SELECT count(*) FROM fobs WHERE public_id = ?`, pub).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a fob with public id %q is already stored: %w", t.PublicID, ErrExists)
		}
	}
	return fmt.Errorf("a fob with serial %q is already stored: %w", t.Serial, ErrExists)
}

// SetFobHolder assigns the fob to a user (userID > 0) or returns it to stock.
func (tx *Tx) SetFobHolder(id, userID int64) error {
	var user any
	state := InStock
	if userID != 0 {
		user, state = userID, Assigned
	}
	_, err := tx.exec(tx.ctx, `UPDATE fobs SET user_id = ?, state = ?, state_at = ?, state_reason = '' WHERE id = ?`,
		user, state, tx.now.Unix(), id)
	return err
}

// SetFobState marks a fob lost or revoked; the holder stays on record.
func (tx *Tx) SetFobState(id int64, st State) error { return tx.SetFobStateBecause(id, st, "") }

// SetFobStateBecause is SetFobState for the reason the clerk gave.
func (tx *Tx) SetFobStateBecause(id int64, st State, reason string) error {
	_, err := tx.exec(tx.ctx, `UPDATE fobs SET state = ?, state_at = ?, state_reason = ? WHERE id = ?`, st, tx.now.Unix(), reason, id)
	return err
}

// FobUse is what a successful verification changes on a fob.
type FobUse struct {
	Counter  uint64 // HOTP: next counter; Yubico: last counter seen
	Drift    int    // TOTP: learned drift in steps
	LastStep int64  // TOTP: step accepted
	HasStep  bool
}

// RecordFobUse stores a success: new counter or step, and a cleared
// failure count.
func (tx *Tx) RecordFobUse(id int64, u FobUse) error {
	var step any
	if u.HasStep {
		step = u.LastStep
	}
	_, err := tx.exec(tx.ctx, `UPDATE fobs SET counter = ?, drift = ?, last_step = coalesce(?, last_step),
		fail_count = 0, last_used_at = ? WHERE id = ?`, int64(u.Counter), u.Drift, step, tx.now.Unix(), id)
	return err
}

// RecordFobFailure counts a failed code and locks the fob when the count
// reaches limit. It returns the new count and whether it locked now.
func (tx *Tx) RecordFobFailure(id int64, limit int) (count int, lockedNow bool, err error) {
	return tx.recordFailure("fobs", id, limit)
}

// UnlockFob clears a fob's failures and lock.
func (tx *Tx) UnlockFob(id int64) error {
	_, err := tx.exec(tx.ctx, `UPDATE fobs SET fail_count = 0, locked_at = NULL WHERE id = ?`, id)
	return err
}
