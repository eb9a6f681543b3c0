package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keydesk/keydesk/internal/pgtest"
)

// TestOutage: through a stop or a crash of the server, what was committed
// stays, clients get errors while it is down, and a database/sql pool
// serves again once it is back, without being reopened.
func TestOutage(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*pgtest.Cluster, testing.TB)
	}{
		{"stop", (*pgtest.Cluster).Stop},
		{"kill", (*pgtest.Cluster).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pgtest.Start(t)
			db := openDB(t, c.NewDatabase(t))
			// Two idle connections in the pool, which the outage breaks.
			db.SetMaxIdleConns(2)
			holdTwo(t, db)
			mustExec(t, db, "CREATE TABLE fobs (serial text PRIMARY KEY, counter bigint NOT NULL)")
			mustExec(t, db, "INSERT INTO fobs VALUES ('F1', 7)")
			// A transaction open when the server goes down does not land.
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(t.Context(), "UPDATE fobs SET counter = 9"); err != nil {
				t.Fatal(err)
			}

			tc.down(c, t)
			err = tx.Commit()
			if err == nil {
				t.Fatal("a commit after the server went down succeeded")
			}
			t.Logf("%s: commit: %v", tc.name, err)
			if !connectionLost(err) {
				t.Errorf("commit while down: %v (%T), not seen as a lost connection", err, err)
			}
			_, err = db.ExecContext(t.Context(), "UPDATE fobs SET counter = 8")
			if err == nil {
				t.Fatal("an update while the server is down succeeded")
			}
			t.Logf("%s: update while down: %v", tc.name, err)
			if !connectionLost(err) {
				t.Errorf("update while down: %v (%T), not seen as a lost connection", err, err)
			}

			c.Restart(t)
			var counter int64
			attempts, err := retryRead(t.Context(), 4, func() error {
				return db.QueryRowContext(t.Context(), "SELECT counter FROM fobs WHERE serial = 'F1'").Scan(&counter)
			})
			if err != nil {
				t.Fatalf("after restart, %d reads failed; last: %v", attempts, err)
			}
			t.Logf("%s: read after restart in %d attempt(s)", tc.name, attempts)
			if counter != 7 {
				t.Errorf("counter %d after the outage, want 7 (the committed value)", counter)
			}
			// The pool opens fresh connections from now on.
			holdTwo(t, db)
		})
	}
}

// holdTwo takes two connections from the pool at once and gives them back,
// leaving both idle in it.
func holdTwo(t testing.TB, db *sql.DB) {
	t.Helper()
	var conns []*sql.Conn
	for range 2 {
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.PingContext(t.Context()); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Close()
	}
}

// connectionLost reports the errors the inventory must treat as "the
// server went away" rather than as an answer: a refused or failed connect,
// the server's own goodbye (57P01 admin_shutdown, 57P02 crash_shutdown,
// 57P03 cannot_connect_now), or a connection broken mid-query.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	switch sqlState(err) {
	case "57P01", "57P02", "57P03":
		return true
	case "":
		// No answer from the server at all: EOF, reset, or pgx's
		// closed connection. An SQL error always has a SQLSTATE.
		return !errors.Is(err, sql.ErrNoRows) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return false
}

// retryRead runs read until it succeeds, at most n times, retrying only
// lost connections: each failed try takes a broken connection out of the
// pool. A read is safe to try again; a write's COMMIT is not, unless
// pgconn.SafeToRetry says the statement never left.
func retryRead(ctx context.Context, n int, read func() error) (int, error) {
	var err error
	for i := 1; i <= n; i++ {
		if err = read(); err == nil || !connectionLost(err) {
			return i, err
		}
	}
	return n, err
}

// TestTerminateConnections cuts one database's sessions and leaves
// another's.
func TestTerminateConnections(t *testing.T) {
	c := pgtest.Shared(t)
	u1, u2 := c.NewDatabase(t), c.NewDatabase(t)
	a, b := openDB(t, u1), openDB(t, u2)
	ca, err := a.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := b.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	for _, conn := range []*sql.Conn{ca, cb} {
		if err := conn.PingContext(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	if n := c.TerminateConnections(t, u1); n != 1 {
		t.Errorf("terminated %d sessions, want 1", n)
	}
	var one int
	err = ca.QueryRowContext(t.Context(), "SELECT 1").Scan(&one)
	if got := sqlState(err); got != "57P01" && !connectionLost(err) {
		t.Errorf("query on a cut session: %v, want it seen as lost", err)
	}
	if err := cb.QueryRowContext(t.Context(), "SELECT 1").Scan(&one); err != nil {
		t.Errorf("the other database's session was cut too: %v", err)
	}
	// The pool replaces the cut connection.
	if _, err := retryRead(t.Context(), 2, func() error { return a.QueryRowContext(t.Context(), "SELECT 1").Scan(&one) }); err != nil {
		t.Errorf("pool after the cut: %v", err)
	}
}
