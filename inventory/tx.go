package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tx is one update's view of the inventory, valid only inside the function
// given to [Store.Update].
type Tx struct {
	s   *Store
	q   querier // the update's statements, in the store's dialect
	ctx context.Context
	now time.Time
	g   *group

	keyChecked bool // sealer checked the key record
}

// group is what a commit carries beyond the database: on SQLite the
// updates committed together, on PostgreSQL one update.
type group struct {
	// aborts undo, in memory, what the updates did beyond the database,
	// should their changes not land.
	aborts []func()
	// head is the audit head the updates left, to record outside the
	// database once the commit has landed; nil if they wrote none.
	head    *auditHead
	rekeyed bool
}

// Now is the time the update started, the same for all it writes.
func (tx *Tx) Now() time.Time { return tx.now }

// onAbort registers fn to run if this update's changes do not land: its
// own failure, or the failure of the commit.
func (tx *Tx) onAbort(fn func()) { tx.g.aborts = append(tx.g.aborts, fn) }

// runAborts runs abort functions newest first, as a rollback would.
func runAborts(fns []func()) {
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// committed does what follows a commit: the head file follows the commit,
// never leads it, so that a crash between the two leaves the file behind
// the log, which is sound, never ahead of it, which would be a false
// alarm.
func (s *Store) committed(ctx context.Context, g *group) {
	if g.head != nil && s.headFile != "" {
		s.recordHead(ctx, *g.head, g.rekeyed)
	}
}

// The raw statements of an update stay inside the package: every change
// is a method of Tx that says what it does to which row.

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.q.exec(ctx, q, args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.q.query(ctx, q, args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.q.queryRow(ctx, q, args...)
}

// querier is what reads need, so that one function serves both a
// transaction and the store's read pool.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// sqlQ runs statements on a pool or a transaction of database/sql, in
// dialect d.
type sqlQ struct {
	db interface {
		ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	}
	d dialect
}

func (q sqlQ) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.db.ExecContext(ctx, q.d.query(query), q.d.args(args)...)
}

func (q sqlQ) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.db.QueryContext(ctx, q.d.query(query), q.d.args(args)...)
}

func (q sqlQ) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.db.QueryRowContext(ctx, q.d.query(query), q.d.args(args)...)
}

// insert adds a row and returns its id; added is false, with no error,
// when a unique constraint already holds a row like it. The insert is
// skipped rather than failed because PostgreSQL aborts a transaction at a
// failed statement, and an update may go on past a row it finds there
// (an import past a fob it already has).
func (tx *Tx) insert(q string, args ...any) (id int64, added bool, err error) {
	err = tx.queryRow(tx.ctx, q+` ON CONFLICT DO NOTHING RETURNING id`, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// sealer is the keyring the update seals under. On PostgreSQL the key
// record is read and held shared until the update ends: a rekey by another
// server waits for this update, and an update that comes after a rekey
// refuses rather than seal under a key the inventory no longer records.
func (tx *Tx) sealer() (*keyring, error) {
	k := tx.s.currentKeys()
	if tx.s.pg == nil || tx.keyChecked {
		return k, nil
	}
	var fp []byte
	if err := tx.queryRow(tx.ctx, `SELECT value FROM meta WHERE name = 'master_key_fingerprint' FOR SHARE`).Scan(&fp); err != nil {
		return nil, err
	}
	if string(fp) != k.fingerprint {
		return nil, fmt.Errorf("%w: the inventory was rekeyed to the key with fingerprint %s; restart keydesk with that key", ErrWrongKey, fp)
	}
	tx.keyChecked = true
	return k, nil
}

// insertOnly is [Tx.insert] for a row whose id the caller does not need:
// added is false when a unique constraint already holds a row like it.
func (tx *Tx) insertOnly(q string, args ...any) (added bool, err error) {
	res, err := tx.exec(tx.ctx, q+` ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
