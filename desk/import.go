package desk

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/seedfile"
	"github.com/keydesk/keydesk/verify"
)

// Errors of [Desk.Import] that callers branch on.
var (
	ErrAlreadyImported = verify.Refusef("file already imported")
	ErrDuplicates      = verify.Refusef("serials already stored")
	errDryRun          = errors.New("dry run")
)

// SeedFile is one file to import.
type SeedFile struct {
	Name string    // as the clerk named it; used in messages and the batch record
	R    io.Reader // its content
}

// ImportRequest says what to import and how.
type ImportRequest struct {
	Files        []SeedFile
	Format       seedfile.Format // "" detects each file's format
	Keys         seedfile.Keys
	Batch        string // batch name; the file name when empty
	DryRun       bool   // do everything but commit
	SkipExisting bool   // import only serials not yet stored, instead of refusing
	// MayAddUsers lets a file that names users who do not exist create
	// them. Without it such a file is refused as a whole (ErrAddsUsers):
	// adding users is a permission of its own ("modify users and groups").
	MayAddUsers bool
}

// ErrAddsUsers is returned by [Desk.Import] for a file that names users
// who do not exist when the import may not add users.
var ErrAddsUsers = fmt.Errorf("%w: the file names users who do not exist, and adding users needs the %q permission", verify.ErrForbidden, verify.ModifyUsers)

// BatchResult is what one file brought.
type BatchResult struct {
	Batch    string          `json:"batch"`
	File     string          `json:"file"`
	SHA256   string          `json:"sha256"`
	Format   seedfile.Format `json:"format"`
	Vendor   string          `json:"vendor,omitempty"`
	Imported int             `json:"imported"`
	ByKind   map[string]int  `json:"by_kind"`
	Existing []string        `json:"existing,omitempty"` // serials skipped as already stored
	Skipped  []seedfile.Skip `json:"skipped,omitempty"`  // records the file itself marks as not fobs
	NewUsers []string        `json:"new_users,omitempty"`
}

// ImportResult sums up an import.
type ImportResult struct {
	DryRun  bool          `json:"dry_run"`
	Batches []BatchResult `json:"batches"`
}

// Total is how many fobs the import stored (or would have, in a dry run).
func (r *ImportResult) Total() int {
	n := 0
	for _, b := range r.Batches {
		n += b.Imported
	}
	return n
}

// maxListed bounds the serials an error or result lists by name.
const maxListed = 20

// Import stores every fob of every file in one transaction: either all of
// them are stored, or none. A serial that is already stored refuses the
// whole import (or is skipped with SkipExisting); a file whose SHA-256 a
// batch already records is refused, naming that batch.
func (d *Desk) Import(ctx context.Context, req ImportRequest) (ImportResult, error) {
	res := ImportResult{DryRun: req.DryRun}
	err := d.update(ctx, func(tx *inventory.Tx) error {
		for i, f := range req.Files {
			name := req.Batch
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(f.Name), filepath.Ext(f.Name))
			} else if len(req.Files) > 1 {
				name = fmt.Sprintf("%s-%d", req.Batch, i+1)
			}
			b, err := d.importFile(ctx, tx, f, name, req)
			if err != nil {
				return err
			}
			res.Batches = append(res.Batches, b)
		}
		if req.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func (d *Desk) importFile(ctx context.Context, tx *inventory.Tx, f SeedFile, name string, req ImportRequest) (BatchResult, error) {
	h := sha256.New()
	in := bufio.NewReaderSize(io.TeeReader(f.R, h), 64<<10)
	r, err := seedfile.NewReader(f.Name, in, req.Format, req.Keys)
	if err != nil {
		return BatchResult{}, err
	}
	format := r.Format()
	batch, err := addBatch(tx, inventory.Batch{Name: name, FileName: filepath.Base(f.Name), Format: string(format), ImportedBy: d.actor}, req.Batch == "")
	if err != nil {
		return BatchResult{}, fmt.Errorf("%s: %w", f.Name, err)
	}
	name = batch.Name
	res := BatchResult{Batch: name, File: f.Name, Format: format, ByKind: map[string]int{}}
	var dups []string
	ndups := 0
	users := newUserCache()
	parsed, stop := parseAhead(r)
	defer stop()
	for {
		if err := ctx.Err(); err != nil {
			return BatchResult{}, err
		}
		t, err := parsed()
		if err == io.EOF {
			break
		}
		if err != nil {
			return BatchResult{}, err
		}
		userID, created, err := users.resolve(tx, t.User, req.MayAddUsers)
		if err != nil {
			return BatchResult{}, fmt.Errorf("%s: serial %q: user %q: %w", f.Name, t.Serial, t.User, err)
		}
		if created {
			res.NewUsers = append(res.NewUsers, t.User)
			if err := tx.Audit(d.actor, "user add", "user "+t.User, "named by seed file "+filepath.Base(f.Name)); err != nil {
				return BatchResult{}, err
			}
		}
		switch err := tx.AddFob(t, batch.ID, userID); {
		case errors.Is(err, inventory.ErrExists):
			ndups++
			if len(dups) < maxListed {
				dups = append(dups, t.Serial)
			}
			continue
		case err != nil:
			return BatchResult{}, fmt.Errorf("%s: serial %q: %w", f.Name, t.Serial, err)
		}
		res.Imported++
		res.ByKind[string(t.Kind)]++
	}
	// Drain what the parser did not read (a trailing newline, say), so the
	// hash covers the whole file.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return BatchResult{}, fmt.Errorf("%s: %w", f.Name, err)
	}
	res.SHA256, res.Vendor, res.Skipped = hex.EncodeToString(h.Sum(nil)), r.Vendor(), r.Skipped()
	if prev, err := tx.BatchByFile(res.SHA256); err == nil {
		return BatchResult{}, fmt.Errorf("%w: %s is the file batch %q brought on %s (%d fobs, imported by %s); nothing imported",
			ErrAlreadyImported, f.Name, prev.Name, prev.ImportedAt.Format(time.DateOnly), prev.Count, prev.ImportedBy)
	} else if !errors.Is(err, inventory.ErrNotFound) {
		return BatchResult{}, err
	}
	if ndups > 0 && !req.SkipExisting {
		return BatchResult{}, duplicatesError(f.Name, dups, ndups)
	}
	res.Existing = dups
	if err := tx.FinishBatch(batch.ID, res.SHA256, res.Vendor, res.Imported); err != nil {
		return BatchResult{}, err
	}
	return res, tx.Audit(d.actor, "import", "batch "+name, fmt.Sprintf("%d fobs from %s (%s, sha256 %s)%s",
		res.Imported, filepath.Base(f.Name), format, res.SHA256[:16], skippedNote(ndups)))
}

// addBatch records a batch; a name keydesk chose (the file's) gets a
// number when taken, while a name the clerk chose must be free.
func addBatch(tx *inventory.Tx, b inventory.Batch, chosen bool) (inventory.Batch, error) {
	base := b.Name
	for i := 2; ; i++ {
		out, err := tx.AddBatch(b)
		if !errors.Is(err, inventory.ErrExists) || !chosen || i > 1000 {
			if errors.Is(err, inventory.ErrExists) {
				return out, verify.Refusef("a batch named %q exists already; name this one with --batch", b.Name)
			}
			return out, err
		}
		b.Name = fmt.Sprintf("%s-%d", base, i)
	}
}

func skippedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d already stored skipped", n)
}

func duplicatesError(file string, dups []string, n int) error {
	sort.Strings(dups)
	more := ""
	if n > len(dups) {
		more = fmt.Sprintf(" and %d more", n-len(dups))
	}
	return fmt.Errorf("%w: %s has %d fob(s) whose serial is already in the inventory: %s%s; nothing imported (--skip-existing imports only the new ones)",
		ErrDuplicates, file, n, strings.Join(dups, ", "), more)
}

// userCache remembers the few users a file names, so a file of fobs for
// one department does not look each up thousands of times. It forgets
// everything when it grows, to keep memory flat on a file of a million
// fobs each for a different person.
type userCache struct{ ids map[string]int64 }

func newUserCache() *userCache { return &userCache{ids: map[string]int64{}} }

func (c *userCache) resolve(tx *inventory.Tx, name string, mayAdd bool) (id int64, created bool, err error) {
	if name == "" {
		return 0, false, nil
	}
	if id, ok := c.ids[name]; ok {
		return id, false, nil
	}
	u, err := tx.User(name)
	if errors.Is(err, inventory.ErrNotFound) {
		if !mayAdd {
			return 0, false, ErrAddsUsers
		}
		u, err = tx.AddUser(inventory.User{Name: name})
		created = err == nil
	}
	if err != nil {
		return 0, false, err
	}
	if u.Disabled {
		return 0, false, verify.Refusef("user %s is disabled", name)
	}
	if len(c.ids) > 4096 {
		clear(c.ids)
	}
	c.ids[name] = u.ID
	return u.ID, created, nil
}

// parseAhead reads r on a goroutine of its own, a chunk of tokens ahead,
// so that parsing the file and storing its fobs use two cores. next
// returns the tokens in order, then io.EOF or the reader's error; stop
// ends the goroutine early.
func parseAhead(r seedfile.Reader) (next func() (fob.Token, error), stop func()) {
	const chunk = 256
	type part struct {
		toks []fob.Token
		err  error
	}
	parts := make(chan part, 4)
	done := make(chan struct{})
	go func() {
		defer close(parts)
		for {
			p := part{toks: make([]fob.Token, 0, chunk)}
			for len(p.toks) < chunk && p.err == nil {
				t, err := r.Next()
				if err != nil {
					p.err = err
					break
				}
				p.toks = append(p.toks, t)
			}
			select {
			case parts <- p:
			case <-done:
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	var cur part
	next = func() (fob.Token, error) {
		for len(cur.toks) == 0 {
			if cur.err != nil {
				return fob.Token{}, cur.err
			}
			p, ok := <-parts
			if !ok {
				return fob.Token{}, io.EOF
			}
			cur = p
		}
		t := cur.toks[0]
		cur.toks = cur.toks[1:]
		return t, nil
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			for range parts {
			}
		})
	}
	return next, stop
}
