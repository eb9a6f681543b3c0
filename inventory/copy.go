package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CopyTable is how many rows of one table [CopyInto] carried.
type CopyTable struct {
	Name string `json:"table"`
	Rows int64  `json:"rows"`
}

// CopyReport is what [CopyInto] did, and what it checked after.
type CopyReport struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Tables  []CopyTable  `json:"tables"`
	Audit   AuditSummary `json:"audit"` // of the copy, verified under the master key
	Skipped []string     `json:"skipped,omitempty"`
}

// CopyInto copies the inventory src into dst, an empty PostgreSQL
// database (a URL) or a new SQLite file, row for row with the same ids,
// sealed values, keyed hashes and audit MACs, so that the same master key
// opens it and its audit chain verifies as the source's does. It refuses a
// target that holds an inventory with anything in it. The copy lands whole
// or not at all (a file it made is removed again); it is then opened
// afresh and checked: the count of every table, the audit chain and its
// head. src is read in one transaction, so keep servers of src stopped
// while it runs: what they write after it started is not carried.
func CopyInto(ctx context.Context, src *Store, dst string, master []byte) (rep CopyReport, err error) {
	rep = CopyReport{From: src.where(), To: Where(dst)}
	if src.path == dst {
		return rep, fmt.Errorf("%s: the copy would be the inventory itself", rep.To)
	}
	if fp := Fingerprint(master); fp != src.MasterKeyFingerprint() {
		return rep, fmt.Errorf("%w: %s is sealed under the master key with fingerprint %s, not %s", ErrWrongKey, rep.From, src.MasterKeyFingerprint(), fp)
	}
	if err := src.sameNames(ctx); err != nil {
		return rep, err
	}
	if !isPostgresURL(dst) && !Exists(dst) {
		defer func() {
			if err != nil {
				for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
					os.Remove(dst + suffix)
				}
			}
		}()
	}
	dstURL := dst
	// Opening with Create makes the schema and a key record; the key
	// record is replaced below by the source's, under the same key.
	target, err := Open(ctx, dstURL, master, Options{Create: true})
	if err != nil {
		return rep, err
	}
	n, table, err := nonEmpty(ctx, target)
	target.Close()
	if err == nil && n > 0 {
		err = fmt.Errorf("%s holds an inventory already (%d rows in %s): keydesk copies only into an empty one", rep.To, n, table)
	}
	if err != nil {
		return rep, err
	}
	tables, err := src.tables(ctx)
	if err != nil {
		return rep, err
	}
	if err := copyRows(ctx, src, dstURL, tables, &rep); err != nil {
		return rep, err
	}
	return rep, checkCopy(ctx, src, dstURL, master, &rep)
}

// sameNames refuses a source with names that differ only in case, which
// the PostgreSQL schema's unique indexes would refuse halfway.
func (s *Store) sameNames(ctx context.Context) error {
	for _, t := range []string{"users", "admins", "applications"} {
		var a, b string
		err := s.db.queryRow(ctx, `SELECT min(name), max(name) FROM `+t+` GROUP BY lower(name) HAVING count(*) > 1 LIMIT 1`).Scan(&a, &b)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return s.describe(err)
		}
		return fmt.Errorf("%s: %s %q and %q differ only in case, which PostgreSQL's inventory refuses: rename one first", s.where(), strings.TrimSuffix(t, "s"), a, b)
	}
	return nil
}

// tables lists the source's tables in the order they were made, which is
// an order in which each table's references come before it.
func (s *Store) tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid`
	if s.pg != nil {
		q = `SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname != '` + pgSchemaTable + `' ORDER BY c.oid`
	}
	rows, err := s.sqldb.QueryContext(ctx, q)
	if err != nil {
		return nil, s.describe(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// nonEmpty finds a table of an inventory that holds rows beyond a new
// inventory's key record.
func nonEmpty(ctx context.Context, s *Store) (int64, string, error) {
	tables, err := s.tables(ctx)
	if err != nil {
		return 0, "", err
	}
	for _, t := range tables {
		if t == "meta" {
			continue
		}
		var n int64
		if err := s.sqldb.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return 0, "", err
		}
		if n > 0 {
			return n, t, nil
		}
	}
	return 0, "", nil
}

// copyRows carries every table in one transaction of the target.
func copyRows(ctx context.Context, src *Store, dstURL string, tables []string, rep *CopyReport) error {
	from, err := src.sqldb.BeginTx(ctx, &sql.TxOptions{ReadOnly: src.pg != nil})
	if err != nil {
		return src.describe(err)
	}
	defer from.Rollback()
	if !isPostgresURL(dstURL) {
		return copyRowsSQLite(ctx, from, dstURL, tables, rep)
	}
	cfg, err := pgConfig(dstURL, 0)
	if err != nil {
		return err
	}
	delete(cfg.RuntimeParams, "lock_timeout")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return (&Store{path: dstURL, pg: &pgStore{}}).describe(err)
	}
	defer conn.Close(context.Background())
	dst := &Store{path: dstURL, pg: &pgStore{}}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return dst.describe(err)
	}
	defer tx.Rollback(context.Background())
	// The new inventory's own key record and empty head give way to the
	// source's, sealed under the same master key.
	if _, err := tx.Exec(ctx, `DELETE FROM meta`); err != nil {
		return dst.describe(err)
	}
	for _, table := range tables {
		n, cols, err := copyTable(ctx, from, tx, table)
		if err != nil {
			return fmt.Errorf("copying %s: %w", table, dst.describe(err))
		}
		rep.Tables = append(rep.Tables, CopyTable{table, n})
		if cols[0] != "id" {
			continue
		}
		// Rows keep their ids; the next one made takes the one after.
		if _, err := tx.Exec(ctx, `SELECT setval(s, coalesce((SELECT max(id) FROM `+table+`), 0) + 1, false)
			FROM pg_get_serial_sequence('`+table+`', 'id') AS s WHERE s IS NOT NULL`); err != nil {
			return fmt.Errorf("copying %s: %w", table, dst.describe(err))
		}
	}
	return dst.describe0(tx.Commit(ctx))
}

func copyTable(ctx context.Context, from *sql.Tx, to pgx.Tx, table string) (int64, []string, error) {
	rows, err := from.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY 1`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, nil, err
	}
	n, err := to.CopyFrom(ctx, pgx.Identifier{table}, cols, &rowSource{rows: rows, vals: make([]any, len(cols))})
	if err != nil {
		return n, cols, err
	}
	return n, cols, rows.Err()
}

// rowSource feeds database/sql rows to COPY.
type rowSource struct {
	rows *sql.Rows
	vals []any
	err  error
}

func (r *rowSource) Next() bool { return r.err == nil && r.rows.Next() }

func (r *rowSource) Values() ([]any, error) {
	ptrs := make([]any, len(r.vals))
	for i := range r.vals {
		ptrs[i] = &r.vals[i]
	}
	if r.err = r.rows.Scan(ptrs...); r.err != nil {
		return nil, r.err
	}
	return r.vals, nil
}

func (r *rowSource) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

// checkCopy opens the copy afresh, as a server would, and compares it with
// the source.
func checkCopy(ctx context.Context, src *Store, dstURL string, master []byte, rep *CopyReport) error {
	dst, err := Open(ctx, dstURL, master, Options{})
	if err != nil {
		return fmt.Errorf("the copy does not open: %w", err)
	}
	defer dst.Close()
	for _, t := range rep.Tables {
		var n int64
		if err := dst.sqldb.QueryRowContext(ctx, `SELECT count(*) FROM `+t.Name).Scan(&n); err != nil {
			return dst.describe(err)
		}
		if n != t.Rows {
			return fmt.Errorf("the copy's %s holds %d rows, the source's %d", t.Name, n, t.Rows)
		}
	}
	want, err := src.snapshotAudit(ctx)
	if err != nil {
		return fmt.Errorf("the source's audit log: %w", err)
	}
	got, err := dst.snapshotAudit(ctx)
	if err != nil {
		return fmt.Errorf("the copy's audit log does not verify: %w", err)
	}
	if got.Entries != want.Entries || got.HeadMAC != want.HeadMAC {
		return fmt.Errorf("the copy's audit log ends at entry %d (%s), the source's at %d (%s)", got.Entries, got.HeadMAC, want.Entries, want.HeadMAC)
	}
	rep.Audit = got
	return nil
}

// snapshotAudit verifies the chain in the database, without the head
// file (source and copy share one).
func (s *Store) snapshotAudit(ctx context.Context) (sum AuditSummary, err error) {
	err = s.snapshot(ctx, func(q querier) error {
		sum, err = verifyChain(ctx, q, s.currentKeys())
		return err
	})
	return sum, err
}

// copyRowsSQLite carries every table into an SQLite file, in one
// transaction.
func copyRowsSQLite(ctx context.Context, from *sql.Tx, path string, tables []string, rep *CopyReport) error {
	dst := &Store{path: path, d: &sqlite{}}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_foreign_keys=on&_txlock=immediate&_busy_timeout=5000")
	if err != nil {
		return dst.describe(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return dst.describe(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM meta`); err != nil {
		return dst.describe(err)
	}
	for _, table := range tables {
		n, err := copyTableSQLite(ctx, from, tx, table)
		if err != nil {
			return fmt.Errorf("copying %s: %w", table, dst.describe(err))
		}
		rep.Tables = append(rep.Tables, CopyTable{table, n})
	}
	return dst.describe0(tx.Commit())
}

func copyTableSQLite(ctx context.Context, from, to *sql.Tx, table string) (int64, error) {
	rows, err := from.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY 1`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	ins, err := to.PrepareContext(ctx, `INSERT INTO `+table+`(`+strings.Join(cols, ", ")+`) VALUES (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+`)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	src := &rowSource{rows: rows, vals: make([]any, len(cols))}
	var n int64
	for src.Next() {
		vals, err := src.Values()
		if err != nil {
			return n, err
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, src.Err()
}
