// Package teststore puts the inventories of tests on the database a run
// asks for: an SQLite file by default, or, with KEYDESK_TEST_STORE=postgres,
// a fresh database of a throw-away PostgreSQL cluster (internal/pgtest), so
// that one suite tests both stores.
package teststore

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // database/sql driver "sqlite3"

	"github.com/keydesk/keydesk/internal/pgtest"
)

// Env selects the store of a test run: "postgres", or empty for SQLite.
const Env = "KEYDESK_TEST_STORE"

// Postgres reports whether this run keeps test inventories on PostgreSQL.
func Postgres() bool { return os.Getenv(Env) == "postgres" }

// Run runs a test binary's tests and removes the cluster they used, if
// any; it returns their status. Call it from TestMain.
func Run(m interface{ Run() int }) int { return pgtest.Run(m) }

// Path is where a test's new inventory goes: file name in dir, or the
// URL of an empty database dropped when the test ends.
func Path(t testing.TB, dir, name string) string {
	t.Helper()
	if Postgres() {
		return pgtest.Shared(t).NewDatabase(t)
	}
	return filepath.Join(dir, name)
}

// SQLiteOnly skips, on a PostgreSQL run, a test of what only the SQLite
// file has (its mode, its pragmas, its WAL, a file of an older keydesk).
func SQLiteOnly(t testing.TB) {
	t.Helper()
	if Postgres() {
		t.Skip("a test of the SQLite file; this run keeps inventories on PostgreSQL")
	}
}

// DB is a second, independent connection to a test's inventory, the way
// someone tampering with it would open it. Its statements are written
// with ? placeholders, for either database.
type DB struct {
	*sql.DB
	pg bool
}

// Raw opens path (a file or a URL) directly; it is closed when the test
// ends.
func Raw(t testing.TB, path string) *DB {
	t.Helper()
	driver, dsn := "sqlite3", "file:"+path+"?_busy_timeout=5000"
	pg := strings.HasPrefix(path, "postgres://") || strings.HasPrefix(path, "postgresql://")
	if pg {
		driver, dsn = "pgx", path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &DB{db, pg}
}

var placeholder = regexp.MustCompile(`\?`)

func (db *DB) rebind(q string) string {
	if !db.pg {
		return q
	}
	n := 0
	return placeholder.ReplaceAllStringFunc(q, func(string) string {
		n++
		return "$" + strconv.Itoa(n)
	})
}

// Exec runs a statement, failing the test on an error.
func (db *DB) Exec(t testing.TB, q string, args ...any) sql.Result {
	t.Helper()
	res, err := db.DB.Exec(db.rebind(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// QueryRow runs a query of one row.
func (db *DB) QueryRow(q string, args ...any) *sql.Row { return db.DB.QueryRow(db.rebind(q), args...) }

// Query runs a query.
func (db *DB) Query(q string, args ...any) (*sql.Rows, error) {
	return db.DB.Query(db.rebind(q), args...)
}
