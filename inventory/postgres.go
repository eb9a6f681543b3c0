package inventory

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// SQLSTATE codes the store answers to (PostgreSQL, Appendix A).
const (
	pgUniqueViolation   = "23505"
	pgCheckViolation    = "23514"
	pgReadOnlyTx        = "25006"
	pgNoPrivilege       = "42501"
	pgSerialization     = "40001"
	pgDeadlock          = "40P01"
	pgLockTimeout       = "55P03"
	pgBadPassword       = "28P01"
	pgBadAuthorization  = "28000"
	pgNoDatabase        = "3D000"
	pgTooManyClients    = "53300"
	pgStartingUp        = "57P03"
	pgAdminShutdown     = "57P01"
	pgCrashShutdown     = "57P02"
	pgDefaultMaxConns   = 32
	pgSchemaTable       = "keydesk_schema"
	pgConnectionTimeout = 10 * time.Second
)

// ErrBusy is a change that met another server's change of the same rows
// and was undone (a deadlock, or a row held longer than the lock timeout).
// Nothing of it landed; it may be tried again.
var ErrBusy = errors.New("inventory is busy: another server was changing the same rows")

// pgStore is what a store on PostgreSQL adds to the SQLite one. There is
// no group commit: each update is its own transaction, at READ COMMITTED,
// on a connection of the pool, and the rows a decision rests on are read
// FOR UPDATE, so that updates on several servers that touch one user,
// fob or key go one after the other while the rest run side by side.
// PostgreSQL shares a WAL flush among commits that arrive together, which
// is what the group commit does for SQLite.
type pgStore struct {
	s *Store
	// updates hold mu shared; a rekey, and Close, hold it alone: an
	// update of this server never seals under a key the rekey is
	// replacing, and Close waits for the updates in flight.
	mu     sync.RWMutex
	closed bool
}

// pgConfig is the URL's configuration, with keydesk's settings where the
// URL names none: a row lock is waited for as long as SQLite waits for its
// file lock, and the sessions say they are keydesk's.
func pgConfig(rawURL string, busy time.Duration) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's message quotes the URL with the password masked; say
		// only what is wrong with it.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, fmt.Errorf("%s: the URL does not parse: %v", Where(rawURL), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectionTimeout
	}
	if _, ok := cfg.RuntimeParams["lock_timeout"]; !ok {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(busy.Milliseconds(), 10)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "keydesk"
	}
	return cfg, nil
}

func openPostgres(ctx context.Context, rawURL string, keys *keyring, o Options) (*Store, error) {
	connURL, n, err := takeMaxConns(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := pgConfig(connURL, o.BusyTimeout)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	if o.MaxConns > 0 {
		n = o.MaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := &postgres{}
	s := &Store{path: rawURL, d: d, sqldb: db, db: sqlQ{db, d}, keys: keys, now: o.Now, headFile: o.AuditHeadFile}
	s.pg = &pgStore{s: s}
	if err := s.preparePG(ctx, o.Create); err != nil {
		db.Close()
		return nil, err
	}
	if !s.readOnly && s.fromVersion < headMigration {
		if err := s.upgradeHead(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if !s.readOnly {
		if err := s.hashSeeds(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// pgSchema reads keydesk's schema row; found is false in a database
// keydesk never migrated.
func pgSchema(ctx context.Context, q querier) (appID int64, version int, found bool, err error) {
	// Asked of pg_tables, not to_regclass: a name lookup goes through the
	// session's catalog cache, which can still say "no such table" just
	// after another server's migration committed, and the advisory lock
	// in migratePG does not refresh it.
	if err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
		WHERE schemaname = current_schema() AND tablename = '`+pgSchemaTable+`')`).Scan(&found); err != nil || !found {
		return 0, 0, false, err
	}
	err = q.queryRow(ctx, `SELECT application_id, version FROM `+pgSchemaTable).Scan(&appID, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, true, nil
	}
	return appID, version, true, err
}

// pgTables counts the tables in the schema keydesk would use.
func pgTables(ctx context.Context, q querier) (n int, err error) {
	err = q.queryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`).Scan(&n)
	return n, err
}

// preparePG checks the database is an inventory (or empty, to become
// one), migrates it and checks the master key.
func (s *Store) preparePG(ctx context.Context, create bool) error {
	appID, version, found, err := pgSchema(ctx, s.db)
	if err != nil {
		return s.describe(err)
	}
	switch {
	case found && appID != applicationID:
		return fmt.Errorf("%s: %w (its %s table is another program's)", s.where(), ErrNotInventory, pgSchemaTable)
	case !found:
		n, err := pgTables(ctx, s.db)
		if err != nil {
			return s.describe(err)
		}
		if n > 0 {
			return fmt.Errorf("%s: %w (it holds %d tables of another program; give keydesk a database, or a schema, of its own)", s.where(), ErrNotInventory, n)
		}
		if !create {
			return fmt.Errorf("no inventory at %s", s.where())
		}
	}
	var readOnly bool
	if err := s.db.queryRow(ctx, `SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'`).Scan(&readOnly); err != nil {
		return s.describe(err)
	}
	if found && !readOnly && version > 0 {
		// A role that may read but not write is a read-only inventory
		// too, as a file without write permission is.
		var may bool
		if err := s.db.queryRow(ctx, `SELECT has_table_privilege('fobs', 'UPDATE')`).Scan(&may); err != nil {
			return s.describe(err)
		}
		readOnly = !may
	}
	s.readOnly = readOnly
	s.fromVersion = version
	if version > len(migrations) {
		return fmt.Errorf("%s has schema version %d, this keydesk knows up to %d: %w; upgrade keydesk",
			s.where(), version, len(migrations), ErrNewerSchema)
	}
	if version < len(migrations) {
		if readOnly {
			return fmt.Errorf("%s needs a schema upgrade but %w", s.where(), ErrReadOnly)
		}
		if err := s.migratePG(ctx); err != nil {
			return err
		}
	}
	return s.checkKey(ctx)
}

// migratePG brings the schema up to date in one transaction (PostgreSQL's
// DDL is transactional), under an advisory lock: servers that start
// together migrate once, the others wait and find it done.
func (s *Store) migratePG(ctx context.Context) error {
	sqltx, err := s.sqldb.BeginTx(ctx, nil)
	if err != nil {
		return s.describe(err)
	}
	defer sqltx.Rollback()
	tx := sqlQ{sqltx, s.d}
	if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(applicationID)); err != nil {
		return s.describe(err)
	}
	appID, version, found, err := pgSchema(ctx, tx)
	if err != nil {
		return s.describe(err)
	}
	if found && appID != applicationID {
		return fmt.Errorf("%s: %w", s.where(), ErrNotInventory)
	}
	if version >= len(migrations) {
		return nil // another server did it while this one waited
	}
	if !found {
		// One row, named by its key "one", so that no second can be
		// added: which program and which schema version.
		if _, err := sqltx.ExecContext(ctx, `CREATE TABLE `+pgSchemaTable+` (
			one            boolean PRIMARY KEY DEFAULT true CHECK (one),
			application_id bigint  NOT NULL,
			version        integer NOT NULL)`); err != nil {
			return s.describe(err)
		}
	}
	for v := version; v < len(migrations); v++ {
		if _, err := sqltx.ExecContext(ctx, s.d.ddl(migrations[v])); err != nil {
			return fmt.Errorf("%s: migration %d: %w", s.where(), v+1, s.describe(err))
		}
	}
	if version == 0 {
		if err := s.initMeta(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.exec(ctx, `INSERT INTO `+pgSchemaTable+`(application_id, version) VALUES (?, ?)
		ON CONFLICT (one) DO UPDATE SET application_id = excluded.application_id, version = excluded.version`,
		int64(applicationID), len(migrations)); err != nil {
		return s.describe(err)
	}
	return s.describe0(sqltx.Commit())
}

// update runs fn in a transaction of its own; exclusive ones run alone
// on this server.
func (p *pgStore) update(ctx context.Context, fn func(tx *Tx) error, exclusive bool) (err error) {
	s := p.s
	if exclusive {
		p.mu.Lock()
		defer p.mu.Unlock()
	} else {
		p.mu.RLock()
		defer p.mu.RUnlock()
	}
	if p.closed {
		return fmt.Errorf("%s: %w", s.where(), ErrClosed)
	}
	sqltx, err := s.sqldb.BeginTx(ctx, nil)
	if err != nil {
		return s.describe(err)
	}
	g := &group{}
	tx := &Tx{s: s, q: sqlQ{sqltx, s.d}, ctx: ctx, now: s.now(), g: g}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("update panicked: %v", r)
		}
		tx.q = nil
		if err != nil {
			sqltx.Rollback()
			runAborts(g.aborts)
		}
	}()
	if err := fn(tx); err != nil {
		return pgOutcome(err)
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("failed to commit: %w", s.describe(err))
	}
	s.committed(ctx, g)
	return nil
}

// pgOutcome marks an update's failure with the sentinel a caller acts on,
// keeping PostgreSQL's own words.
func pgOutcome(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case pgDeadlock, pgSerialization, pgLockTimeout:
		return fmt.Errorf("%w (%v)", ErrBusy, err)
	case pgReadOnlyTx, pgNoPrivilege:
		return fmt.Errorf("%w (%v)", ErrReadOnly, err)
	}
	return err
}

// describePG names what went wrong in words a clerk or an operator can
// act on; the URL is shown without its password.
func (s *Store) describePG(err error) error {
	w := s.where()
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgReadOnlyTx, pgNoPrivilege:
			return fmt.Errorf("%s: %w: %s", w, ErrReadOnly, pe.Message)
		case pgBadPassword, pgBadAuthorization:
			return fmt.Errorf("%s: the server refused the login (%s): check the user and password of the URL", w, pe.Message)
		case pgNoDatabase:
			return fmt.Errorf("%s: %s: create it (createdb) or name another", w, pe.Message)
		case pgTooManyClients:
			return fmt.Errorf("%s: the server has no connection to spare (%s): lower max_conns or raise max_connections", w, pe.Message)
		case pgStartingUp, pgAdminShutdown, pgCrashShutdown:
			return fmt.Errorf("%s: the server is starting or stopping (%s); try again", w, pe.Message)
		case pgDeadlock, pgSerialization, pgLockTimeout:
			return fmt.Errorf("%s: %w (%s)", w, ErrBusy, pe.Message)
		}
		return fmt.Errorf("%s: %w", w, err)
	}
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: cannot reach the PostgreSQL server: %v", w, ce.Unwrap())
	}
	return fmt.Errorf("%s: %w", w, err)
}

// snapshot runs fn on one view of the database: a walk of the audit log
// made of several statements must not see another server's entry appear
// between them. On SQLite, where one process writes, fn reads the pool.
func (s *Store) snapshot(ctx context.Context, fn func(q querier) error) error {
	if s.pg == nil {
		return fn(s.db)
	}
	sqltx, err := s.sqldb.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return s.describe(err)
	}
	defer sqltx.Rollback()
	return fn(sqlQ{sqltx, s.d})
}

// pgProbe reports whether the database at rawURL holds an inventory.
func pgProbe(ctx context.Context, rawURL string) (bool, error) {
	cfg, err := pgConfig(rawURL, 5*time.Second)
	if err != nil {
		return false, err
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	s := &Store{path: rawURL, d: &postgres{}, pg: &pgStore{}}
	_, _, found, err := pgSchema(ctx, sqlQ{db, s.d})
	if err != nil {
		return false, s.describe(err)
	}
	return found, nil
}

// pgFingerprint reads which master key sealed the inventory at rawURL.
func pgFingerprint(ctx context.Context, rawURL string) (string, error) {
	cfg, err := pgConfig(rawURL, 5*time.Second)
	if err != nil {
		return "", err
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	var fp []byte
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'master_key_fingerprint'`).Scan(&fp); err != nil {
		return "", fmt.Errorf("%s: %w", Where(rawURL), ErrNotInventory)
	}
	return string(fp), nil
}

// close refuses updates from now on, once those in flight are done.
func (p *pgStore) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// Unavailable reports whether err says the database could not be reached
// or was going away (rather than that a statement was wrong): what a
// server answers with "try again" (503), never as an allow.
func Unavailable(err error) bool {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrClosed), errors.Is(err, ErrBusy), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ce), pgconn.Timeout(err):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || pe.Code == pgAdminShutdown || pe.Code == pgCrashShutdown ||
			pe.Code == pgStartingUp || pe.Code == pgTooManyClients
	}
	var ne net.Error
	return errors.As(err, &ne) || strings.Contains(err.Error(), "conn closed")
}

// takeMaxConns reads keydesk's own parameter of a URL, max_conns (the
// connections a server keeps to the database, 32 by default), and gives
// the URL without it for PostgreSQL, which would refuse it as a setting
// it does not know.
func takeMaxConns(rawURL string) (string, int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", 0, fmt.Errorf("%s: the URL does not parse", Where(rawURL))
	}
	q := u.Query()
	if !q.Has("max_conns") {
		return rawURL, pgDefaultMaxConns, nil
	}
	n, err := strconv.Atoi(q.Get("max_conns"))
	if err != nil || n < 1 || n > 1000 {
		return "", 0, fmt.Errorf("%s: max_conns=%q, want a number from 1 to 1000", Where(rawURL), q.Get("max_conns"))
	}
	q.Del("max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}
