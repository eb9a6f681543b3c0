// Package inventory is keydesk's SQLite store: users, fobs, batches, bypass
// codes and the audit chain, with every secret sealed under a master key
// kept apart from the database. It knows rows, not policy: the decisions
// are package verify's.
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
	"path/filepath"
	"strings"
	"sync"
	"time"

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
	// BusyTimeout is how long to wait for another process's write lock.
	BusyTimeout time.Duration
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
	path     string
	db       readPool // readers
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

// Exists reports whether an inventory file is at path.
func Exists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0
}

// Open opens the inventory at path with master key master, applying
// pending migrations. It refuses a file that is not a keydesk inventory,
// one from a newer keydesk, and a master key that did not seal it.
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
	if o.Sync == "" {
		o.Sync = "FULL"
	}
	keys, err := newKeyring(master, o.Rand)
	if err != nil {
		return nil, err
	}
	exists := Exists(path)
	if !exists && !o.Create {
		return nil, fmt.Errorf("no inventory at %s", path)
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("failed to create inventory: %w", err)
		}
		// The file is made here, readable by its owner only: SQLite would
		// make it with the umask's mode, 0644 as a rule, and makes the WAL
		// and shared-memory files with the mode of the database file.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("failed to create inventory: %w", err)
		}
		f.Close()
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("failed to create inventory: %w", err)
		}
	}
	readOnly := exists && !writable(path)

	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(o.BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	// 16 MiB of page cache a connection (the default is 2 MiB) keeps the
	// indexes of a large import in memory, and the whole process of a
	// million-fob import under 100 MB.
	q.Set("_cache_size", "-16384")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("_synchronous", o.Sync)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("failed to open inventory %s: %w", path, err)
	}
	s := &Store{path: path, db: readPool{db}, keys: keys, now: o.Now, readOnly: readOnly, headFile: o.AuditHeadFile}
	if err := s.prepare(ctx, exists); err != nil {
		db.Close()
		return nil, err
	}
	if !readOnly {
		// WAL only now that the file is known to be ours: journal_mode is
		// written into the file's header, and a file refused above must
		// be left as it was.
		if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
			db.Close()
			return nil, s.describe(err)
		}
		if s.writer, err = newWriter(ctx, s); err != nil {
			db.Close()
			return nil, err
		}
		if s.fromVersion < headMigration {
			if err := s.upgradeHead(ctx); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	return s, nil
}

func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// prepare checks the file is ours, migrates it and checks the master key.
func (s *Store) prepare(ctx context.Context, existed bool) error {
	var appID, version int
	if err := s.db.queryRow(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.describe(err)
	}
	if err := s.db.queryRow(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.describe(err)
	}
	s.fromVersion = version
	if existed && appID != applicationID {
		var tables int
		s.db.queryRow(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables)
		if appID != 0 || tables > 0 {
			return fmt.Errorf("%s: %w (it is an SQLite database of another program)", s.path, ErrNotInventory)
		}
	}
	if version > len(migrations) {
		return fmt.Errorf("%s has schema version %d, this keydesk knows up to %d: %w; upgrade keydesk",
			s.path, version, len(migrations), ErrNewerSchema)
	}
	if version < len(migrations) {
		if s.readOnly {
			return fmt.Errorf("%s needs a schema upgrade but %w", s.path, ErrReadOnly)
		}
		if err := s.migrate(ctx, version); err != nil {
			return err
		}
	}
	return s.checkKey(ctx)
}

// describe turns SQLite's terse errors into ones a clerk can act on.
func (s *Store) describe(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB:
			return fmt.Errorf("%s: %w (not an SQLite database)", s.path, ErrNotInventory)
		case sqlite3.ErrReadonly:
			return fmt.Errorf("%s: %w: the file or its folder is not writable", s.path, ErrReadOnly)
		case sqlite3.ErrCantOpen:
			return fmt.Errorf("%s: cannot open the database file (check the folder exists and is writable): %w", s.path, err)
		}
	}
	return fmt.Errorf("%s: %w", s.path, err)
}

func (s *Store) migrate(ctx context.Context, from int) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.describe(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.describe(err)
	}
	defer tx.Rollback()
	// Re-read the version under the write lock: another process may have
	// migrated the file while this one waited.
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.describe(err)
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("%s: migration %d: %w", s.path, v+1, s.describe(err))
		}
	}
	if version == 0 {
		if err := s.initMeta(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d",
		applicationID, len(migrations))); err != nil {
		return s.describe(err)
	}
	return s.describe0(tx.Commit())
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
func (s *Store) initMeta(ctx context.Context, tx *sql.Tx) error {
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
	_, err = tx.ExecContext(ctx, `INSERT INTO meta(name, value) VALUES
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
		return fmt.Errorf("%s: %w (its key record is missing: %v)", s.path, ErrNotInventory, err)
	}
	if fp != s.currentKeys().fingerprint {
		return fmt.Errorf("%w: %s is sealed under the master key with fingerprint %s, but the key given has fingerprint %s",
			ErrWrongKey, s.path, fp, s.currentKeys().fingerprint)
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

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Close waits for pending writes and closes the database.
func (s *Store) Close() error {
	if s.writer != nil {
		s.writer.close()
	}
	return s.db.Close()
}

// isUnique reports a UNIQUE constraint failure.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
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
