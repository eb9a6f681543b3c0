// Package inventory is keydesk's store: users, fobs, batches, keys, bypass
// codes and the audit chain, with every secret sealed under a master key
// kept apart from the database. The database is an SQLite file by default
// (one process writes at a time, group-committed), or PostgreSQL, which
// several servers share (row locks make their decisions one at a time
// where they must be). It knows rows, not policy: the decisions are
// package verify's.
package inventory

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// Sentinel errors for outcomes callers branch on.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrReadOnly     = errors.New("inventory is read-only")
	ErrNotInventory = errors.New("not a keydesk inventory")
	ErrNewerSchema  = errors.New("inventory is from a newer keydesk")
	ErrNoMasterKey  = errors.New("master key missing")
	ErrClosed       = errors.New("inventory is closed")
)

// Options configures [Open]. The zero value is usable.
type Options struct {
	// Create allows making a new inventory when path does not exist.
	Create bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand is the source of nonces and keys; crypto/rand when nil.
	Rand io.Reader
	// BusyTimeout is how long to wait for another process's write lock
	// (SQLite), or for a row another server holds (PostgreSQL's
	// lock_timeout).
	BusyTimeout time.Duration
	// MaxConns bounds the connections to PostgreSQL (default 32); SQLite
	// ignores it.
	MaxConns int
	// Sync is SQLite's synchronous setting for the WAL: "FULL" (the
	// default: a commit survives power loss) or "NORMAL" (survives a
	// crash of keydesk, not of the machine).
	Sync string
	// AuditHeadFile is where the audit log's head is kept outside the
	// database, beside the master key; none when empty.
	AuditHeadFile string
}

// Store is an open inventory. It is safe for concurrent use.
type Store struct {
	// path is the file, or the PostgreSQL URL as given, password and
	// all: shown only through where.
	path     string
	d        dialect
	sqldb    *sql.DB
	db       sqlQ     // readers: the pool, in the store's dialect
	pg       *pgStore // nil on SQLite
	keys     *keyring // read through currentKeys: Rekey swaps it
	keysMu   sync.RWMutex
	hashKey  []byte // keyed-hash key for values shown once (bypass codes, API keys)
	now      func() time.Time
	writer   *writer
	readOnly bool

	headFile string
	headMu   sync.Mutex
	headErr  error // the last failure to write headFile

	fromVersion int // the schema version the file had when opened
}

// Exists reports whether an inventory is at path: a file that is not
// empty, or a PostgreSQL database that holds keydesk's schema. A database
// that cannot be reached holds none, as far as Exists can tell: see
// [Probe] for why.
func Exists(path string) bool {
	ok, _ := Probe(context.Background(), path)
	return ok
}

// Probe reports whether an inventory is at path, or why that cannot be
// told (the PostgreSQL server cannot be reached, refuses the login...).
func Probe(ctx context.Context, path string) (bool, error) {
	if isPostgresURL(path) {
		return pgProbe(ctx, path)
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0, nil
}

// IsURL reports whether path names a PostgreSQL database rather than a
// file.
func IsURL(path string) bool { return isPostgresURL(path) }

// Open opens the inventory at path (a file, or a postgres:// URL) with
// master key master, applying pending migrations. It refuses a database
// that is not a keydesk inventory, one from a newer keydesk, and a master
// key that did not seal it.
func Open(ctx context.Context, path string, master []byte, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 5 * time.Second
	}
	keys, err := newKeyring(master, o.Rand)
	if err != nil {
		return nil, err
	}
	if isPostgresURL(path) {
		return openPostgres(ctx, path, keys, o)
	}
	return openSQLite(ctx, path, keys, o)
}

// where names the inventory in messages: the file, or the URL without its
// password.
func (s *Store) where() string { return Where(s.path) }

// Where is how a path or URL of an inventory is shown: a URL's password
// never is.
func Where(path string) string {
	if !isPostgresURL(path) {
		return path
	}
	u, err := url.Parse(path)
	if err != nil {
		return "postgres://(a URL that does not parse)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Kind names the database behind the store: "sqlite" or "postgresql".
func (s *Store) Kind() string { return s.d.name() }

// describe turns the database's terse errors into ones a clerk can act on.
func (s *Store) describe(err error) error {
	if s.pg != nil {
		return s.describePG(err)
	}
	return s.describeSQLite(err)
}

func (s *Store) describe0(err error) error {
	if err == nil {
		return nil
	}
	return s.describe(err)
}

// initMeta records which master key seals this inventory, and a random key
// for keyed hashes, sealed under it so that rekeying keeps bypass codes and
// API keys valid.
func (s *Store) initMeta(ctx context.Context, tx querier) error {
	hk := make([]byte, 32)
	if _, err := io.ReadFull(s.currentKeys().rand, hk); err != nil {
		return err
	}
	sealed, err := s.currentKeys().sealValue(hk, "meta/hash_key")
	if err != nil {
		return err
	}
	// meta.value is a STRICT BLOB column: a Go string binds as TEXT and
	// is refused, so the fingerprint goes in as bytes.
	// The log starts with an authenticated head of no entries, so that a
	// head that goes missing later is always noticed.
	_, err = tx.exec(ctx, `INSERT INTO meta(name, value) VALUES
		('master_key_fingerprint', ?), ('hash_key', ?), ('audit_head', ?)`,
		[]byte(s.currentKeys().fingerprint), sealed, encodeHead(s.currentKeys().newHead(0, nil)))
	return s.describe0(err)
}

func (s *Store) checkKey(ctx context.Context) error {
	var fp string
	var sealed []byte
	err := s.db.queryRow(ctx, `SELECT
		(SELECT value FROM meta WHERE name = 'master_key_fingerprint'),
		(SELECT value FROM meta WHERE name = 'hash_key')`).Scan(&fp, &sealed)
	if err != nil {
		return fmt.Errorf("%s: %w (its key record is missing: %v)", s.where(), ErrNotInventory, err)
	}
	if fp != s.currentKeys().fingerprint {
		return fmt.Errorf("%w: %s is sealed under the master key with fingerprint %s, but the key given has fingerprint %s",
			ErrWrongKey, s.where(), fp, s.currentKeys().fingerprint)
	}
	hk, err := s.currentKeys().openValue(sealed, "meta/hash_key")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWrongKey, err)
	}
	s.hashKey = hk
	return nil
}

// MasterKeyFingerprint is the fingerprint of the key the store was opened with.
func (s *Store) MasterKeyFingerprint() string { return s.currentKeys().fingerprint }

// currentKeys is the keyring the store seals and MACs under now. Rekey
// replaces it in the writer while readers use it from other goroutines.
func (s *Store) currentKeys() *keyring {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	return s.keys
}

func (s *Store) setKeys(k *keyring) {
	s.keysMu.Lock()
	s.keys = k
	s.keysMu.Unlock()
}

// Path is the database file, or the PostgreSQL URL without its password.
func (s *Store) Path() string { return s.where() }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Close waits for pending writes and closes the database.
func (s *Store) Close() error {
	if s.writer != nil {
		s.writer.close()
	}
	if s.pg != nil {
		s.pg.close()
	}
	return s.sqldb.Close()
}

// isUnique reports a UNIQUE constraint failure.
func isUnique(err error) bool {
	var se sqlite3.Error
	var pe *pgconn.PgError
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique ||
		errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

// isCheck reports a CHECK constraint failure.
func isCheck(err error) bool {
	var se sqlite3.Error
	var pe *pgconn.PgError
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintCheck ||
		errors.As(err, &pe) && pe.Code == pgCheckViolation
}

func nullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}

func like(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// unixOrNil is t in unix seconds, or NULL for the zero time.
func unixOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}
