package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// openSQLite opens the inventory file at path.
func openSQLite(ctx context.Context, path string, keys *keyring, o Options) (*Store, error) {
	if o.Sync == "" {
		o.Sync = "FULL"
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
	d := &sqlite{}
	s := &Store{path: path, d: d, sqldb: db, db: sqlQ{db, d}, keys: keys, now: o.Now, readOnly: readOnly, headFile: o.AuditHeadFile}
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
		if err := s.hashSeeds(ctx); err != nil {
			s.Close()
			return nil, err
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

// describeSQLite turns SQLite's terse errors into ones a clerk can act on.
func (s *Store) describeSQLite(err error) error {
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
	conn, err := s.sqldb.Conn(ctx)
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
		if err := s.initMeta(ctx, sqlQ{tx, s.d}); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d",
		applicationID, len(migrations))); err != nil {
		return s.describe(err)
	}
	return s.describe0(tx.Commit())
}
