package pgtest_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keydesk/keydesk/internal/pgtest"
)

// TestNotify: what a server's cache can rely on when another server tells
// it a row changed with pg_notify in the changing transaction. database/sql
// cannot listen, so the listener is a native pgx connection.
func TestNotify(t *testing.T) {
	c := pgtest.Shared(t)
	u := c.NewDatabase(t)
	db := openDB(t, u)
	listener := listen(t, u, "fob_changed")
	notify := func(payloads ...string) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			for _, p := range payloads {
				if _, err := tx.ExecContext(t.Context(), "SELECT pg_notify('fob_changed', $1)", p); err != nil {
					return err
				}
			}
			return nil
		}
	}

	// A rolled-back transaction notifies no one.
	tx := beginTx(t, db)
	if err := notify("F1")(tx); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	// Notifications come at commit, in order, and the same one twice
	// in a transaction comes once.
	if err := inTx(t.Context(), db, sql.LevelDefault, notify("F2", "F2", "F3")); err != nil {
		t.Fatal(err)
	}
	if err := inTx(t.Context(), db, sql.LevelDefault, notify("end")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, listener, 3); !slices.Equal(got, []string{"F2", "F3", "end"}) {
		t.Errorf("received %q, want [F2 F3 end]", got)
	}

	// A listener cut off misses what is sent meanwhile: it must listen
	// again and reload its cache, not wait for the changes it missed.
	c.TerminateConnections(t, u)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if n, err := listener.WaitForNotification(ctx); err == nil {
		t.Fatalf("notification %q on a terminated connection", n.Payload)
	} else if !connectionLost(err) {
		t.Errorf("listener cut off: %v, not seen as a lost connection", err)
	}
	if _, err := retryRead(t.Context(), 3, func() error { return inTx(t.Context(), db, sql.LevelDefault, notify("missed")) }); err != nil {
		t.Fatal(err)
	}
	listener = listen(t, u, "fob_changed")
	if err := inTx(t.Context(), db, sql.LevelDefault, notify("after")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, listener, 1); !slices.Equal(got, []string{"after"}) {
		t.Errorf("after reconnecting, received %q, want [after]", got)
	}
}

func listen(t *testing.T, url, channel string) *pgx.Conn {
	t.Helper()
	conn := connect(t, url)
	if _, err := conn.Exec(t.Context(), "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return conn
}

func receive(t *testing.T, conn *pgx.Conn, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []string
	for range n {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, note.Payload)
	}
	return got
}
