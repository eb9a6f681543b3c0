package inventory

// The help desk's reports: the figures and lists are counted and chosen
// here, in SQL, one query each; where a rule of policy decides what is
// listed (is a lock still on?), package verify has the last word.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// What makes a factor usable, at ?1 (now, in unix seconds): the rules of
// package verify, written as SQL so that a report counts rather than
// reads every row. A fob is usable when assigned and within its seed
// file's dates (a lock does not count: it ends), and so is a paired phone
// app, which is a fob row; a key, when active; a bypass code, while it has
// uses left, has not expired and is not revoked. The SQL is what SQLite
// and PostgreSQL both read.
const (
	usableFob = `f.state = 'assigned' AND (f.not_before IS NULL OR f.not_before <= ?1)
		AND (f.not_after IS NULL OR f.not_after > ?1)`
	usableKey   = `k.state = 'active'`
	liveCode    = `c.uses_left > 0 AND c.expires_at > ?1 AND c.revoked_at IS NULL`
	fobsOfUser  = `FROM fobs f WHERE f.user_id = u.id`
	keysOfUser  = `FROM keys k WHERE k.user_id = u.id`
	codesOfUser = `FROM bypass_codes c WHERE c.user_id = u.id`
	phoneFob    = `EXISTS (SELECT 1 FROM phone_apps p WHERE p.fob_id = f.id)`
)

// Page asks for one page of a long report: the rows after a cursor (the
// last row of the page before), at most Limit of them (all when 0).
type Page struct {
	After string
	Limit int
}

func (p Page) limit() string {
	if p.Limit <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", p.Limit)
}

// NoFactorUser is a user with no usable factor, with what they hold that
// no longer works.
type NoFactorUser struct {
	Name      string    `json:"user"`
	FullName  string    `json:"full_name,omitempty"`
	Email     string    `json:"email,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	LostFobs  int       `json:"lost_fobs"`        // fobs and phone apps reported lost or revoked
	OutOfDate int       `json:"fobs_out_of_date"` // assigned, but outside their seed file's dates
	LostKeys  int       `json:"lost_keys"`
}

// NoFactorUsers lists, by name, the users who have no usable fob, key or
// live bypass code at now.
func (s *Store) NoFactorUsers(ctx context.Context, now time.Time, p Page) ([]NoFactorUser, error) {
	q := `SELECT u.name, u.full_name, u.email, u.disabled, u.created_at,
		(SELECT count(*) ` + fobsOfUser + ` AND f.state IN ('lost', 'revoked')),
		(SELECT count(*) ` + fobsOfUser + ` AND f.state = 'assigned'),
		(SELECT count(*) ` + keysOfUser + ` AND k.state = 'lost')
		FROM users u WHERE u.name > ?2
		AND NOT EXISTS (SELECT 1 ` + fobsOfUser + ` AND ` + usableFob + `)
		AND NOT EXISTS (SELECT 1 ` + keysOfUser + ` AND ` + usableKey + `)
		AND NOT EXISTS (SELECT 1 ` + codesOfUser + ` AND ` + liveCode + `)
		ORDER BY u.name` + p.limit()
	rows, err := s.db.query(ctx, q, now.Unix(), p.After)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NoFactorUser
	for rows.Next() {
		var u NoFactorUser
		var created int64
		// Every assigned fob of a user without a usable one is outside
		// its dates.
		if err := rows.Scan(&u.Name, &u.FullName, &u.Email, &u.Disabled, &created, &u.LostFobs, &u.OutOfDate, &u.LostKeys); err != nil {
			return nil, err
		}
		u.CreatedAt = time.Unix(created, 0).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// StockRow counts the fobs of one batch in each state. Fobs typed in one
// by one have no batch: their row's Batch is empty. Phone apps are none
// of it.
type StockRow struct {
	Batch      string    `json:"batch"`
	ImportedAt time.Time `json:"imported_at,omitzero"`
	Stock      int       `json:"stock"`
	Assigned   int       `json:"assigned"`
	Lost       int       `json:"lost"`
	Revoked    int       `json:"revoked"`
	Total      int       `json:"total"`
}

// Stock counts fobs by batch and state, oldest batch first, the fobs
// typed in last.
func (s *Store) Stock(ctx context.Context) ([]StockRow, error) {
	// Phone apps are fob rows, but no one's stock.
	rows, err := s.db.query(ctx, `SELECT coalesce(min(b.name), ''), min(b.imported_at),
		count(*) FILTER (WHERE f.state = 'stock'), count(*) FILTER (WHERE f.state = 'assigned'),
		count(*) FILTER (WHERE f.state = 'lost'), count(*) FILTER (WHERE f.state = 'revoked'), count(*)
		FROM fobs f LEFT JOIN batches b ON b.id = f.batch_id WHERE NOT `+phoneFob+`
		GROUP BY f.batch_id ORDER BY f.batch_id IS NULL, f.batch_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StockRow
	for rows.Next() {
		var r StockRow
		var at sql.NullInt64
		if err := rows.Scan(&r.Batch, &at, &r.Stock, &r.Assigned, &r.Lost, &r.Revoked, &r.Total); err != nil {
			return nil, err
		}
		r.ImportedAt = nullTime(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// UnusedFactor is a fob, phone app or key that has not answered since
// before a cut-off. Since is when its holder got it (a fob's assignment, a
// key's registration): a factor never used is idle from then.
type UnusedFactor struct {
	Kind       string    `json:"kind"` // fob, phone (a phone app's fob) or key
	Serial     string    `json:"serial,omitempty"`
	KeyID      int64     `json:"key_id,omitempty"`
	KeyName    string    `json:"key_name,omitempty"`
	User       string    `json:"user"`
	Since      time.Time `json:"since"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// idleSince is the later of the last success and the holder's getting
// the factor, in unix seconds: a fob used by its last holder and handed
// on has not been used by this one.
const idleSince = `CASE WHEN %[1]s.last_used_at > %[1]s.%[2]s THEN %[1]s.last_used_at ELSE %[1]s.%[2]s END`

// UnusedFobs lists, by serial, the assigned fobs and paired phone apps
// with no success since before cutoff, nor an assignment since then.
func (s *Store) UnusedFobs(ctx context.Context, cutoff time.Time, p Page) ([]UnusedFactor, error) {
	q := `SELECT CASE WHEN ` + phoneFob + ` THEN 'phone' ELSE 'fob' END, f.serial, u.name, f.state_at, f.last_used_at
		FROM fobs f JOIN users u ON u.id = f.user_id
		WHERE f.state = 'assigned' AND ` + fmt.Sprintf(idleSince, "f", "state_at") + ` < ?1 AND f.serial > ?2
		ORDER BY f.serial` + p.limit()
	return s.unused(ctx, q, false, cutoff.Unix(), p.After)
}

// UnusedKeys lists, by number, the active keys with no success since
// before cutoff, nor a registration since then; after is a key number.
func (s *Store) UnusedKeys(ctx context.Context, cutoff time.Time, afterID int64, limit int) ([]UnusedFactor, error) {
	q := `SELECT 'key', k.id, k.name, u.name, k.created_at, k.last_used_at FROM keys k JOIN users u ON u.id = k.user_id
		WHERE k.state = 'active' AND ` + fmt.Sprintf(idleSince, "k", "created_at") + ` < ?1 AND k.id > ?2
		ORDER BY k.id` + Page{Limit: limit}.limit()
	return s.unused(ctx, q, true, cutoff.Unix(), afterID)
}

func (s *Store) unused(ctx context.Context, q string, keys bool, args ...any) ([]UnusedFactor, error) {
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UnusedFactor
	for rows.Next() {
		var f UnusedFactor
		var since int64
		var used sql.NullInt64
		dest := []any{&f.Kind, &f.Serial, &f.User, &since, &used}
		if keys {
			dest = []any{&f.Kind, &f.KeyID, &f.KeyName, &f.User, &since, &used}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		f.Since, f.LastUsedAt = time.Unix(since, 0).UTC(), nullTime(used)
		out = append(out, f)
	}
	return out, rows.Err()
}

// ExpiringFob is a fob in stock or assigned whose seed file's expiry date
// is near or past.
type ExpiringFob struct {
	Serial   string    `json:"serial"`
	Kind     fob.Kind  `json:"kind"`
	State    State     `json:"state"`
	User     string    `json:"user,omitempty"`
	Batch    string    `json:"batch,omitempty"`
	NotAfter time.Time `json:"expires_at"`
}

// ExpiringFobs lists the fobs in stock or assigned whose expiry date is
// before horizon, those past it too, soonest first; the cursor is the
// serial of the last fob of the page before.
func (s *Store) ExpiringFobs(ctx context.Context, horizon time.Time, p Page) ([]ExpiringFob, error) {
	q := `SELECT f.serial, f.kind, f.state, coalesce((SELECT name FROM users WHERE id = f.user_id), ''),
		coalesce((SELECT name FROM batches WHERE id = f.batch_id), ''), f.not_after
		FROM fobs f WHERE f.not_after IS NOT NULL AND f.not_after < ?1 AND f.state IN ('stock', 'assigned')`
	args := []any{horizon.Unix()}
	if p.After != "" {
		q += ` AND (f.not_after, f.serial) > ((SELECT not_after FROM fobs WHERE serial = ?2), ?2)`
		args = append(args, p.After)
	}
	q += ` ORDER BY f.not_after, f.serial` + p.limit()
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ExpiringFob
	for rows.Next() {
		var f ExpiringFob
		var at int64
		if err := rows.Scan(&f.Serial, &f.Kind, &f.State, &f.User, &f.Batch, &at); err != nil {
			return nil, err
		}
		f.NotAfter = time.Unix(at, 0).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// Lock is a user or a fob that failures locked at LockedAt. Whether the
// lock still holds is the policy's to say.
type Lock struct {
	Kind      string    `json:"kind"` // user or fob
	Name      string    `json:"name"` // the user's name or the fob's serial
	User      string    `json:"user,omitempty"`
	FailCount int       `json:"fail_count"`
	LockedAt  time.Time `json:"locked_at"`
}

// Locks lists the users, then the fobs in stock or assigned, locked at
// or after since (every lock when since is zero), most recent first.
func (s *Store) Locks(ctx context.Context, since time.Time) ([]Lock, error) {
	from := int64(0)
	if !since.IsZero() {
		from = since.Unix()
	}
	rows, err := s.db.query(ctx, `SELECT 'user', name, name, fail_count, locked_at, 0 FROM users
		WHERE locked_at IS NOT NULL AND locked_at >= ?1
		UNION ALL
		SELECT 'fob', f.serial, coalesce((SELECT name FROM users WHERE id = f.user_id), ''), f.fail_count, f.locked_at, 1 FROM fobs f
		WHERE f.locked_at IS NOT NULL AND f.locked_at >= ?1 AND f.state IN ('stock', 'assigned')
		ORDER BY 6, 5 DESC, 2`, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Lock
	for rows.Next() {
		var l Lock
		var at int64
		var order int
		if err := rows.Scan(&l.Kind, &l.Name, &l.User, &l.FailCount, &at, &order); err != nil {
			return nil, err
		}
		l.LockedAt = time.Unix(at, 0).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// LiveBypass is a live bypass code in the bypass report: whose, and until
// when; never the code.
type LiveBypass struct {
	User string `json:"user"`
	BypassCode
}

// LiveBypassCodes lists the bypass codes live at now, by user and then
// expiry; the cursor is the number of the last code of the page before.
func (s *Store) LiveBypassCodes(ctx context.Context, now time.Time, afterID int64, limit int) ([]LiveBypass, error) {
	q := `SELECT u.name, c.id, c.hash, c.uses_left, c.expires_at, c.created_by, c.created_at, c.last_used_at, c.revoked_at
		FROM bypass_codes c JOIN users u ON u.id = c.user_id WHERE ` + liveCode
	args := []any{now.Unix()}
	if afterID > 0 {
		q += ` AND (u.name, c.expires_at, c.id) > (SELECT u2.name, c2.expires_at, c2.id
			FROM bypass_codes c2 JOIN users u2 ON u2.id = c2.user_id WHERE c2.id = ?2)`
		args = append(args, afterID)
	}
	q += ` ORDER BY u.name, c.expires_at, c.id` + Page{Limit: limit}.limit()
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LiveBypass
	for rows.Next() {
		var b LiveBypass
		if b.BypassCode, _, err = scanBypass(scanAround{rows, []any{&b.User}, nil}); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// scanAround scans columns before and after those a scan function of a
// row type knows, so that a report reuses scanUser or scanBypass as they
// grow.
type scanAround struct {
	row           interface{ Scan(...any) error }
	before, after []any
}

func (s scanAround) Scan(dest ...any) error {
	all := make([]any, 0, len(s.before)+len(dest)+len(s.after))
	all = append(append(append(all, s.before...), dest...), s.after...)
	return s.row.Scan(all...)
}

// Factors counts what a user holds that works now.
type Factors struct {
	Fobs   int `json:"fobs"`
	Phones int `json:"phone_apps"`
	Keys   int `json:"keys"`
	Bypass int `json:"bypass_codes"`
}

// UserFactors is a user with the count of their usable factors.
type UserFactors struct {
	User
	Factors Factors `json:"factors"`
}

// UsersWithFactors lists users by name as [Store.Users] does, each with
// the usable factors they hold at now, counted in the same query.
func (s *Store) UsersWithFactors(ctx context.Context, f UserFilter, now time.Time) ([]UserFactors, error) {
	q := `SELECT ` + userColumns + `,
		(SELECT count(*) ` + fobsOfUser + ` AND ` + usableFob + ` AND NOT ` + phoneFob + `),
		(SELECT count(*) ` + fobsOfUser + ` AND ` + usableFob + ` AND ` + phoneFob + `),
		(SELECT count(*) ` + keysOfUser + ` AND ` + usableKey + `),
		(SELECT count(*) ` + codesOfUser + ` AND ` + liveCode + `)
		FROM users u WHERE u.name LIKE ?2 ESCAPE '\' AND u.name > ?3 ORDER BY u.name` + Page{Limit: f.Limit}.limit()
	rows, err := s.db.query(ctx, q, now.Unix(), like(f.Prefix)+"%", f.After)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UserFactors
	for rows.Next() {
		var u UserFactors
		if u.User, err = scanUser(scanAround{rows, nil, []any{&u.Factors.Fobs, &u.Factors.Phones, &u.Factors.Keys, &u.Factors.Bypass}}); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// FobTotals counts the fobs a filter selects, by state and by kind.
type FobTotals struct {
	Total   int              `json:"total"`
	ByState map[State]int    `json:"by_state"`
	ByKind  map[fob.Kind]int `json:"by_kind"`
}

// FobTotals counts the fobs a filter selects (its page fields aside), in
// one grouped query.
func (s *Store) FobTotals(ctx context.Context, filter FobFilter) (FobTotals, error) {
	filter.After, filter.Limit = "", 0
	where, args := fobWhere(filter)
	rows, err := s.db.query(ctx, `SELECT f.state, f.kind, count(*) FROM fobs f `+where+` GROUP BY f.state, f.kind`, args...)
	if err != nil {
		return FobTotals{}, err
	}
	defer rows.Close()
	t := FobTotals{ByState: map[State]int{InStock: 0, Assigned: 0, Lost: 0, Revoked: 0}, ByKind: map[fob.Kind]int{}}
	for rows.Next() {
		var st State
		var kind fob.Kind
		var n int
		if err := rows.Scan(&st, &kind, &n); err != nil {
			return FobTotals{}, err
		}
		t.ByState[st] += n
		t.ByKind[kind] += n
		t.Total += n
	}
	return t, rows.Err()
}
