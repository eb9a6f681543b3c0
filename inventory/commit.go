package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
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
	g     group // what the group being committed carries
}

type request struct {
	ctx context.Context
	fn  func(*Tx) error
	err chan error
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.sqldb.Conn(ctx)
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
		return fmt.Errorf("%s: %w: the file is not writable", s.where(), ErrReadOnly)
	}
	if s.pg != nil {
		return s.pg.update(ctx, fn, false)
	}
	r := &request{ctx: ctx, fn: fn, err: make(chan error, 1)}
	// A send on a closed channel would panic, so a store that is closing
	// refuses through quit instead: an update racing Close is an error,
	// not a crash.
	select {
	case s.writer.reqs <- r:
	case <-s.writer.quit:
		return fmt.Errorf("%s: %w", s.where(), ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.err
}

func (w *writer) loop() {
	defer close(w.done)
	for {
		var batch []*request
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-w.quit:
			return
		}
	drain:
		for len(batch) < maxGroup {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		w.commit(batch)
	}
}

func (w *writer) commit(reqs []*request) {
	ctx := context.Background()
	errs := make([]error, len(reqs))
	fail := func(err error) {
		for _, r := range reqs {
			r.err <- err
		}
	}
	w.g = group{aborts: w.g.aborts[:0]}
	if _, err := w.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(w.s.describe(err))
		return
	}
	for i, r := range reqs {
		errs[i] = w.run(r)
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		w.conn.ExecContext(ctx, "ROLLBACK")
		runAborts(w.g.aborts)
		fail(fmt.Errorf("failed to commit: %w", w.s.describe(err)))
		return
	}
	w.s.committed(ctx, &w.g)
	for i, r := range reqs {
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
	tx := &Tx{s: w.s, q: writerQ{w}, ctx: ctx, now: w.s.now(), g: &w.g}
	mark := len(w.g.aborts)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("update panicked: %v", p)
		}
		if err != nil {
			if _, rerr := w.conn.ExecContext(ctx, "ROLLBACK TO u"); rerr != nil {
				err = fmt.Errorf("%w (and undoing it failed: %v)", err, rerr)
			}
			runAborts(w.g.aborts[mark:])
			w.g.aborts = w.g.aborts[:mark]
		}
		w.exec(ctx, "RELEASE u")
		tx.q = nil
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
	st, err := w.conn.PrepareContext(context.Background(), w.s.d.query(q))
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// writerQ runs an update's statements on the writer's connection,
// prepared once each.
type writerQ struct{ w *writer }

func (q writerQ) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := q.w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (q writerQ) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (q writerQ) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.w.stmt(query)
	if err != nil {
		// sql.Row carries no constructor for an error; run the query
		// unprepared so the error surfaces from Scan.
		return q.w.conn.QueryRowContext(ctx, q.w.s.d.query(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}
