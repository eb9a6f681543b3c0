package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/keydesk/keydesk/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openDB opens a database/sql pool on url through pgx's stdlib driver, as
// the inventory does.
func openDB(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestConnect(t *testing.T) {
	c := pgtest.Shared(t)
	u := c.NewDatabase(t)
	if !strings.HasPrefix(u, "postgres://keydesk:") || !strings.Contains(u, "@127.0.0.1:") {
		t.Errorf("URL %q", u)
	}
	if c.Version == "" || c.Port == 0 || c.Port == 5432 {
		t.Errorf("cluster version %q on port %d, want its own port", c.Version, c.Port)
	}
	name := strings.TrimPrefix(mustParse(t, u).Path, "/")

	t.Run("stdlib", func(t *testing.T) {
		db := openDB(t, u)
		var db0, user string
		var super bool
		err := db.QueryRowContext(t.Context(), `SELECT current_database(), current_user,
			(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&db0, &user, &super)
		if err != nil {
			t.Fatal(err)
		}
		if db0 != name || user != pgtest.User || super {
			t.Errorf("connected to %s as %s (superuser %v), want %s as %s, not superuser", db0, user, super, name, pgtest.User)
		}
		// The role owns the database: the inventory's migrations may
		// create tables in schema public (PostgreSQL 15 lets only the
		// owner).
		mustExec(t, db, "CREATE TABLE t (id bigint PRIMARY KEY)")
	})
	t.Run("native", func(t *testing.T) {
		conn := connect(t, u)
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT $1::int + 1", 41).Scan(&n); err != nil || n != 42 {
			t.Fatalf("SELECT: %d, %v", n, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		bad := mustParse(t, u)
		bad.User = url.UserPassword(pgtest.User, "not-the-password")
		_, err := pgx.Connect(t.Context(), bad.String())
		if got := sqlState(err); got != "28P01" { // invalid_password
			t.Errorf("wrong password: %v (SQLSTATE %q), want 28P01", err, got)
		}
	})
}

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDatabasesAreSeparate: what one test writes, another does not see.
func TestDatabasesAreSeparate(t *testing.T) {
	c := pgtest.Shared(t)
	u1, u2 := c.NewDatabase(t), c.NewDatabase(t)
	if u1 == u2 {
		t.Fatalf("two databases with one URL %s", u1)
	}
	a, b := openDB(t, u1), openDB(t, u2)
	mustExec(t, a, "CREATE TABLE fobs (serial text PRIMARY KEY)")
	mustExec(t, a, "INSERT INTO fobs VALUES ('F1')")
	var n int
	err := b.QueryRowContext(t.Context(), "SELECT count(*) FROM fobs").Scan(&n)
	if got := sqlState(err); got != "42P01" { // undefined_table
		t.Errorf("the second database sees the first's table: %v", err)
	}
	mustExec(t, b, "CREATE TABLE fobs (serial text PRIMARY KEY)")
	if err := b.QueryRowContext(t.Context(), "SELECT count(*) FROM fobs").Scan(&n); err != nil || n != 0 {
		t.Errorf("second database: %d fobs, %v; want 0", n, err)
	}
}

// TestDatabaseDroppedAfterTest: the databases of a finished test are gone,
// sessions it left open or not.
func TestDatabaseDroppedAfterTest(t *testing.T) {
	c := pgtest.Shared(t)
	var left string
	t.Run("leaves a session open", func(t *testing.T) {
		left = c.NewDatabase(t)
		db, err := sql.Open("pgx", left)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PingContext(t.Context()); err != nil {
			t.Fatal(err)
		}
		// db is not closed: the drop must end its session.
	})
	_, err := pgx.Connect(t.Context(), left)
	if got := sqlState(err); got != "3D000" { // invalid_catalog_name
		t.Errorf("connecting to the finished test's database: %v, want SQLSTATE 3D000", err)
	}
}

func TestStopOnSharedClusterRefused(t *testing.T) {
	c := pgtest.Shared(t)
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		c.Stop(ft)
	}()
	if !strings.Contains(ft.msg, "shared cluster") {
		t.Errorf("Stop on the shared cluster: %q, want a refusal", ft.msg)
	}
	// The cluster still serves.
	db := openDB(t, c.NewDatabase(t))
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// fatalRecorder keeps what Fatalf says and stops the caller with a panic
// instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func TestASCIIFoldWithCollateC(t *testing.T) {
	db := openDB(t, pgtest.Shared(t).NewDatabase(t))
	// keydesk matches names as SQLite's NOCASE does: ASCII letters only.
	// lower() under COLLATE "C" does that on any cluster, whatever locale
	// initdb was given; under a libc or ICU collation it folds Ä too.
	var got string
	if err := db.QueryRowContext(t.Context(), `SELECT lower('ÄLICE' COLLATE "C")`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "Älice" {
		t.Errorf(`lower('ÄLICE' COLLATE "C") = %q, want "Älice"`, got)
	}
}

// TestParallelDatabases: parallel tests each make their database in the
// one cluster at once.
func TestParallelDatabases(t *testing.T) {
	c := pgtest.Shared(t)
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			db := openDB(t, c.NewDatabase(t))
			mustExec(t, db, "CREATE TABLE fobs (serial text PRIMARY KEY)")
			mustExec(t, db, "INSERT INTO fobs VALUES ($1)", fmt.Sprint(i))
			var n int
			if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM fobs").Scan(&n); err != nil || n != 1 {
				t.Errorf("%d fobs, %v; want 1", n, err)
			}
		})
	}
}
