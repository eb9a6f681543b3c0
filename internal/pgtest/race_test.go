package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/pgtest"
)

// The guarantees several keydesk servers on one database rely on, shown on
// two database/sql pools (two servers) racing 64 sessions for one row.

const racers = 64

// twoServers opens two pools on a fresh database, each able to hold half
// the racers' connections at once, and creates the tables in schema.
func twoServers(t *testing.T, schema string) [2]*sql.DB {
	t.Helper()
	u := pgtest.Shared(t).NewDatabase(t)
	var nodes [2]*sql.DB
	for i := range nodes {
		nodes[i] = openDB(t, u)
		nodes[i].SetMaxOpenConns(racers / 2)
		nodes[i].SetMaxIdleConns(racers / 2)
	}
	mustExec(t, nodes[0], schema)
	return nodes
}

// race runs n workers at once. Each does what it must before the race (open
// a transaction, take a snapshot), then calls wait; when all have, they go
// on together. A worker that returns without calling wait does not hold up
// the others.
func race[T any](n int, work func(i int, wait func()) T) []T {
	out := make([]T, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			arrive := sync.OnceFunc(ready.Done)
			defer arrive()
			out[i] = work(i, func() { arrive(); <-start })
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// inTx runs fn in a transaction at level on db and commits it.
func inTx(ctx context.Context, db *sql.DB, level sql.IsolationLevel, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: level})
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// TestConditionalUpdateRace: 64 sessions present the same counter value
// at once (one OTP code sent to every server). With the condition in the
// UPDATE, exactly one changes the row. At READ COMMITTED the others wait
// for its commit, re-read the row and find the condition false: 0 rows,
// no error. At REPEATABLE READ they fail instead with SQLSTATE 40001,
// which the inventory would have to retry.
func TestConditionalUpdateRace(t *testing.T) {
	for _, tc := range []struct {
		level   sql.IsolationLevel
		loserIs string // what each of the 63 others sees
	}{
		{sql.LevelReadCommitted, "0 rows"},
		{sql.LevelRepeatableRead, "40001"},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			nodes := twoServers(t, `CREATE TABLE fobs (id bigint PRIMARY KEY, counter bigint NOT NULL);
				INSERT INTO fobs VALUES (1, 0)`)
			for v := int64(1); v <= 5; v++ {
				got := race(racers, func(i int, wait func()) string {
					var n int64
					err := inTx(t.Context(), nodes[i%2], tc.level, func(tx *sql.Tx) error {
						// The snapshot of REPEATABLE READ is taken at the
						// first statement: before the race, so that every
						// session's predates the winner's commit.
						if _, err := tx.ExecContext(t.Context(), "SELECT 1"); err != nil {
							return err
						}
						wait()
						res, err := tx.ExecContext(t.Context(), "UPDATE fobs SET counter = $1 WHERE id = 1 AND counter < $1", v)
						if err != nil {
							return err
						}
						n, err = res.RowsAffected()
						return err
					})
					switch {
					case err != nil && sqlState(err) != "":
						return sqlState(err)
					case err != nil:
						return err.Error()
					}
					return fmt.Sprintf("%d rows", n)
				})
				want := map[string]int{"1 rows": 1, tc.loserIs: racers - 1}
				if c := count(got); !equalCounts(c, want) {
					t.Errorf("value %d: outcomes %v, want %v", v, c, want)
				}
			}
			var counter int64
			nodes[1].QueryRowContext(t.Context(), "SELECT counter FROM fobs WHERE id = 1").Scan(&counter)
			if counter != 5 {
				t.Errorf("counter %d, want 5", counter)
			}
		})
	}
}

// TestCounterNeverGoesBack: 64 sessions present 64 different values in
// random order. Each success is logged in its transaction; in the order
// the successes committed, the values only grow, so no code older than
// one accepted is ever accepted after it.
func TestCounterNeverGoesBack(t *testing.T) {
	nodes := twoServers(t, `CREATE TABLE fobs (id bigint PRIMARY KEY, counter bigint NOT NULL);
		CREATE TABLE accepted (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, value bigint NOT NULL);
		INSERT INTO fobs VALUES (1, 0)`)
	values := rand.Perm(racers)
	errs := race(racers, func(i int, wait func()) error {
		v := values[i] + 1
		return inTx(t.Context(), nodes[i%2], sql.LevelReadCommitted, func(tx *sql.Tx) error {
			wait()
			res, err := tx.ExecContext(t.Context(), "UPDATE fobs SET counter = $1 WHERE id = 1 AND counter < $1", v)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				// The row lock is held from the UPDATE to the commit,
				// so the sequence numbers follow the commit order.
				_, err = tx.ExecContext(t.Context(), "INSERT INTO accepted(value) VALUES ($1)", v)
			}
			return err
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	accepted := column[int64](t, nodes[0], "SELECT value FROM accepted ORDER BY seq")
	if !slices.IsSorted(accepted) || len(slices.Compact(slices.Clone(accepted))) != len(accepted) {
		t.Errorf("accepted values in commit order %v: not strictly increasing", accepted)
	}
	if len(accepted) == 0 || accepted[len(accepted)-1] != racers {
		t.Errorf("accepted %v, want it to end with %d", accepted, racers)
	}
	t.Logf("%d of %d values accepted", len(accepted), racers)
}

// TestSelectForUpdateRace: the read-check-write of a verification (read
// the fob, judge the code in Go, store the new counter) is one step
// across servers when the read takes the row lock. 64 sessions with the
// same code: exactly one accepts.
func TestSelectForUpdateRace(t *testing.T) {
	nodes := twoServers(t, `CREATE TABLE fobs (id bigint PRIMARY KEY, counter bigint NOT NULL);
		INSERT INTO fobs VALUES (1, 0)`)
	for v := int64(1); v <= 5; v++ {
		accepted := race(racers, func(i int, wait func()) error {
			return inTx(t.Context(), nodes[i%2], sql.LevelReadCommitted, func(tx *sql.Tx) error {
				wait()
				var counter int64
				if err := tx.QueryRowContext(t.Context(), "SELECT counter FROM fobs WHERE id = 1 FOR UPDATE").Scan(&counter); err != nil {
					return err
				}
				if v <= counter {
					return errReplay
				}
				_, err := tx.ExecContext(t.Context(), "UPDATE fobs SET counter = $1 WHERE id = 1", v)
				return err
			})
		})
		want := map[string]int{"<nil>": 1, errReplay.Error(): racers - 1}
		if c := countErrs(accepted); !equalCounts(c, want) {
			t.Errorf("value %d: outcomes %v, want %v", v, c, want)
		}
	}
}

var errReplay = errors.New("replay")

// TestLostUpdateWithoutLock shows, step by step on two sessions, why the
// lock is needed: without it both servers read counter 0, both accept
// code 1. With FOR UPDATE the second read waits for the first commit and
// then returns the row as committed, so the second server refuses.
func TestLostUpdateWithoutLock(t *testing.T) {
	for _, tc := range []struct {
		lock      string
		bothAllow bool
	}{
		{"", true},
		{" FOR UPDATE", false},
	} {
		t.Run("select"+tc.lock, func(t *testing.T) {
			nodes := twoServers(t, `CREATE TABLE fobs (id bigint PRIMARY KEY, counter bigint NOT NULL);
				INSERT INTO fobs VALUES (1, 0)`)
			ctx := t.Context()
			read := "SELECT counter FROM fobs WHERE id = 1" + tc.lock
			a, b := beginTx(t, nodes[0]), beginTx(t, nodes[1])
			var ca int64
			if err := a.QueryRowContext(ctx, read).Scan(&ca); err != nil {
				t.Fatal(err)
			}
			// b reads in the background: with the lock it must wait for a.
			bPID := backendPID(t, b)
			bRead := make(chan int64, 1)
			go func() {
				var cb int64
				if err := b.QueryRowContext(ctx, read).Scan(&cb); err != nil {
					t.Error(err)
				}
				bRead <- cb
			}()
			// Without the lock b's read is over before a writes; with
			// it, b waits until a has committed.
			var cb int64
			if tc.lock == "" {
				cb = <-bRead
			} else {
				waitForLock(t, nodes[0], bPID)
			}
			allowA := ca < 1
			if _, err := a.ExecContext(ctx, "UPDATE fobs SET counter = 1 WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			if err := a.Commit(); err != nil {
				t.Fatal(err)
			}
			if tc.lock != "" {
				cb = <-bRead
			}
			allowB := cb < 1
			if allowB {
				if _, err := b.ExecContext(ctx, "UPDATE fobs SET counter = 1 WHERE id = 1"); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			if !allowA || allowB != tc.bothAllow {
				t.Errorf("server A allowed %v, server B allowed %v (read %d); want A, and B %v", allowA, allowB, cb, tc.bothAllow)
			}
		})
	}
}

func beginTx(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

func backendPID(t *testing.T, tx *sql.Tx) int {
	t.Helper()
	var pid int
	if err := tx.QueryRowContext(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitForLock returns once the backend pid waits for a lock.
func waitForLock(t *testing.T, db *sql.DB, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var waiting bool
		err := db.QueryRowContext(t.Context(),
			"SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("backend %d never waited for the lock", pid)
}

// TestLastBypassUse: a code with 3 uses left, 64 sessions spending it at
// once. The decrement is conditional on a use being left, so exactly 3
// succeed and they see 2, 1 and 0 left.
func TestLastBypassUse(t *testing.T) {
	nodes := twoServers(t, `CREATE TABLE bypass_codes (id bigint PRIMARY KEY, uses_left integer NOT NULL);
		INSERT INTO bypass_codes VALUES (1, 3)`)
	left := race(racers, func(i int, wait func()) string {
		wait()
		var n int
		err := nodes[i%2].QueryRowContext(t.Context(),
			"UPDATE bypass_codes SET uses_left = uses_left - 1 WHERE id = 1 AND uses_left > 0 RETURNING uses_left").Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return "refused"
		}
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d left", n)
	})
	want := map[string]int{"2 left": 1, "1 left": 1, "0 left": 1, "refused": racers - 3}
	if c := count(left); !equalCounts(c, want) {
		t.Errorf("outcomes %v, want %v", c, want)
	}
}

// TestLockoutCount: 64 failed codes at once on one user with a limit of 5.
// Each increment sees its own count, 1 to 64 once each, so exactly one
// session locks the user, and the lock time is that session's.
func TestLockoutCount(t *testing.T) {
	nodes := twoServers(t, `CREATE TABLE users (id bigint PRIMARY KEY, fail_count integer NOT NULL, locked_at bigint);
		INSERT INTO users VALUES (1, 0, NULL)`)
	const limit = 5
	type result struct {
		count int
		at    int64
	}
	got := race(racers, func(i int, wait func()) result {
		wait()
		r := result{at: int64(1000 + i)}
		err := nodes[i%2].QueryRowContext(t.Context(), `UPDATE users SET fail_count = fail_count + 1,
			locked_at = CASE WHEN locked_at IS NULL AND fail_count + 1 >= $2 THEN $3 ELSE locked_at END
			WHERE id = $1 RETURNING fail_count`, 1, limit, r.at).Scan(&r.count)
		if err != nil {
			t.Error(err)
		}
		return r
	})
	var counts []int
	var lockedBy []int64
	for _, r := range got {
		counts = append(counts, r.count)
		if r.count == limit {
			lockedBy = append(lockedBy, r.at)
		}
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts seen %v, want 1 to %d once each", counts, racers)
		}
	}
	var at int64
	nodes[0].QueryRowContext(t.Context(), "SELECT locked_at FROM users WHERE id = 1").Scan(&at)
	if len(lockedBy) != 1 || at != lockedBy[0] {
		t.Errorf("locked at %d by sessions %v, want one session's time", at, lockedBy)
	}
}

func count(outcomes []string) map[string]int {
	c := map[string]int{}
	for _, o := range outcomes {
		c[o]++
	}
	return c
}

func countErrs(errs []error) map[string]int {
	c := map[string]int{}
	for _, err := range errs {
		c[fmt.Sprint(err)]++
	}
	return c
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func column[T any](t *testing.T, db *sql.DB, q string, args ...any) []T {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
