package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// maxGroup bounds how many updates share one commit.
const maxGroup = 256

// writer owns the one connection that writes, and commits the updates
// queued at the same moment together ("group commit"): SQLite allows one
// writer at a time anyway, and one fsync for many updates is what makes
// thousands of verifications a second durable.
type writer struct {
	s     *Store
	conn  *sql.Conn
	reqs  chan *request
	quit  chan struct{} // closed by close: no more requests are taken
	done  chan struct{}
	stmts map[string]*sql.Stmt
	once  sync.Once
	// aborts undo, in memory, what the group's updates did beyond the
	// database, should their changes not land.
	aborts []func()
	// head is the audit head the group's updates left, to record outside
	// the database once the commit has landed; nil if they wrote none.
	head    *auditHead
	rekeyed bool
}

type request struct {
	ctx context.Context
	fn  func(*Tx) error
	err chan error
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.describe(err)
	}
	w := &writer{s: s, conn: conn, reqs: make(chan *request), quit: make(chan struct{}), done: make(chan struct{}), stmts: map[string]*sql.Stmt{}}
	go w.loop()
	return w, nil
}

func (w *writer) close() {
	w.once.Do(func() {
		close(w.quit)
		<-w.done
		for _, st := range w.stmts {
			st.Close()
		}
		w.conn.Close()
	})
}

// Update runs fn in a write transaction and returns once its changes are
// committed, or with the error that undid them. fn may share the
// transaction with other updates; a savepoint keeps its failure from
// undoing theirs. fn must not keep tx, and must not act outside the
// database before Update returns: the commit may still fail.
func (s *Store) Update(ctx context.Context, fn func(tx *Tx) error) error {
	if s.readOnly {
		return fmt.Errorf("%s: %w: the file is not writable", s.path, ErrReadOnly)
	}
	r := &request{ctx: ctx, fn: fn, err: make(chan error, 1)}
	// A send on a closed channel would panic, so a store that is closing
	// refuses through quit instead: an update racing Close is an error,
	// not a crash.
	select {
	case s.writer.reqs <- r:
	case <-s.writer.quit:
		return fmt.Errorf("%s: %w", s.path, ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.err
}

func (w *writer) loop() {
	defer close(w.done)
	for {
		var group []*request
		select {
		case r := <-w.reqs:
			group = append(group, r)
		case <-w.quit:
			return
		}
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-w.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		w.commit(group)
	}
}

func (w *writer) commit(group []*request) {
	ctx := context.Background()
	errs := make([]error, len(group))
	fail := func(err error) {
		for _, r := range group {
			r.err <- err
		}
	}
	w.aborts = w.aborts[:0]
	w.head, w.rekeyed = nil, false
	if _, err := w.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(w.s.describe(err))
		return
	}
	for i, r := range group {
		errs[i] = w.run(r)
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		w.conn.ExecContext(ctx, "ROLLBACK")
		runAborts(w.aborts)
		fail(fmt.Errorf("failed to commit: %w", w.s.describe(err)))
		return
	}
	// The head file follows the commit, never leads it: a crash between
	// the two leaves the file behind the log, which is sound, never ahead
	// of it, which would be a false alarm.
	if w.head != nil && w.s.headFile != "" {
		w.s.recordHead(ctx, *w.head, w.rekeyed)
	}
	for i, r := range group {
		r.err <- errs[i]
	}
}

// run applies one update inside the shared transaction, under a savepoint.
func (w *writer) run(r *request) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := w.exec(ctx, "SAVEPOINT u"); err != nil {
		return w.s.describe(err)
	}
	tx := &Tx{w: w, ctx: ctx, now: w.s.now()}
	mark := len(w.aborts)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("update panicked: %v", p)
		}
		if err != nil {
			if _, rerr := w.conn.ExecContext(ctx, "ROLLBACK TO u"); rerr != nil {
				err = fmt.Errorf("%w (and undoing it failed: %v)", err, rerr)
			}
			runAborts(w.aborts[mark:])
			w.aborts = w.aborts[:mark]
		}
		w.exec(ctx, "RELEASE u")
		tx.w = nil
	}()
	return r.fn(tx)
}

// exec runs one of the writer's fixed statements (BEGIN, SAVEPOINT...),
// prepared once: preparing them anew at every update was a sixth of the
// cost of a verification.
func (w *writer) exec(ctx context.Context, q string) (sql.Result, error) {
	st, err := w.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx)
}

func (w *writer) stmt(q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// onAbort registers fn to run, in the writer, if this update's changes
// do not land: its own failure, or the failure of the group's commit.
func (tx *Tx) onAbort(fn func()) { tx.w.aborts = append(tx.w.aborts, fn) }

// runAborts runs abort functions newest first, as a rollback would.
func runAborts(fns []func()) {
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// Tx is one update's view of the inventory, valid only inside the function
// given to [Store.Update].
type Tx struct {
	w   *writer
	ctx context.Context
	now time.Time
}

// Now is the time the update started, the same for all it writes.
func (tx *Tx) Now() time.Time { return tx.now }

// The raw statements of an update stay inside the package: every change
// is a method of Tx that says what it does to which row.

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := tx.w.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := tx.w.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := tx.w.stmt(q)
	if err != nil {
		// sql.Row carries no constructor for an error; run the query
		// unprepared so the error surfaces from Scan.
		return tx.w.conn.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// querier is what reads need, so that one function serves both a
// transaction and the store's read pool.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// readPool is the store's pool of connections that read.
type readPool struct{ *sql.DB }

func (p readPool) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.ExecContext(ctx, q, args...)
}

func (p readPool) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.QueryContext(ctx, q, args...)
}

func (p readPool) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return p.QueryRowContext(ctx, q, args...)
}
