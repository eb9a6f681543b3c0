package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// globalFlags work before or after the command (see interspersed).
func globalFlags() []cli.Flag {
	return []cli.Flag{
		// The defaults are shown as the rule, not as this machine's paths,
		// so that the man page made at build time says what holds anywhere.
		&cli.StringFlag{Name: "db", Usage: "the inventory: an SQLite file `PATH`, or a postgres:// URL shared by several servers", EnvVars: []string{"KEYDESK_DB"}, Value: defaultDB(),
			DefaultText: "$XDG_DATA_HOME/keydesk/keydesk.db"},
		&cli.StringFlag{Name: "master-key", Usage: "master key file `PATH` (kept apart from the database)",
			EnvVars: []string{"KEYDESK_MASTER_KEY_FILE"}, Value: defaultMasterKey(), DefaultText: "$XDG_CONFIG_HOME/keydesk/master.key"},
		jsonFlag,
	}
}

func xdg(env, fallback string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "."
	}
	return filepath.Join(home, fallback)
}

func defaultDB() string {
	return filepath.Join(xdg("XDG_DATA_HOME", ".local/share"), "keydesk", "keydesk.db")
}

func defaultMasterKey() string {
	return filepath.Join(xdg("XDG_CONFIG_HOME", ".config"), "keydesk", "master.key")
}

// actor names who runs the CLI in the audit log.
func actor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli:uid" + fmt.Sprint(os.Getuid())
}

// clockNow is the inventory's clock: the system's (nil), or the one the
// CLI tests set, so that their scripts do not depend on the day they run.
var clockNow func() time.Time

// session is an open inventory and what acts on it, for one command:
// changes go through the desk, decisions through the verifier.
type session struct {
	store *inventory.Store // opened and closed here; read and changed only through desk and ver
	desk  *desk.Desk
	ver   *verify.Verifier
}

func (s *session) Close() { s.store.Close() }

// errNoInventory is what every command but init says on a missing
// inventory: a typo in --db must not make an empty one.
var errNoInventory = errors.New("no inventory")

// open opens the inventory named by the flags. An existing one is never
// re-keyed behind the clerk's back: a missing or wrong key is an error
// that names the key it needs.
func open(c *cli.Context) (*session, error) {
	dbPath, keyPath := paths(c)
	exists, err := inventory.Probe(c.Context, dbPath)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%w at %s: create one with keydesk init (or check --db / KEYDESK_DB)", errNoInventory, inventory.Where(dbPath))
	}
	key, err := inventory.ReadMasterKey(keyPath)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("master key %s is missing, and the inventory %s needs the key with fingerprint %s; restore it from your copy (keydesk never makes a new key for an existing inventory)",
			keyPath, inventory.Where(dbPath), sealedFingerprint(c.Context, dbPath))
	default:
		return nil, err
	}
	st, err := inventory.Open(c.Context, dbPath, key, inventory.Options{AuditHeadFile: headFile(keyPath), Now: clockNow})
	if errors.Is(err, inventory.ErrWrongKey) {
		if hint := interruptedRekey(c.Context, dbPath, keyPath); hint != "" {
			err = fmt.Errorf("%w\n%s", err, hint)
		}
	}
	if err != nil {
		return nil, err
	}
	return newSession(st), nil
}

func newSession(st *inventory.Store) *session {
	ver := verify.New(st, verify.DefaultPolicy)
	return &session{store: st, desk: desk.New(st, ver).As(actor()), ver: ver}
}

// create makes a new inventory and its master key. It refuses to touch
// an inventory or a key that exists: a key file left from another
// inventory is not silently reused, and never overwritten.
func create(c *cli.Context) (*session, string, error) {
	dbPath, keyPath := paths(c)
	exists, err := inventory.Probe(c.Context, dbPath)
	if err != nil {
		return nil, "", err
	}
	if exists {
		return nil, "", verify.Refusef("an inventory already exists at %s", inventory.Where(dbPath))
	}
	if _, err := os.Lstat(keyPath); err == nil {
		return nil, "", verify.Refusef("a master key already exists at %s; keydesk init will not reuse or overwrite it: move it away, or give --master-key a new path", keyPath)
	}
	key, err := inventory.NewMasterKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	if err := inventory.WriteMasterKey(keyPath, key); err != nil {
		return nil, "", err
	}
	st, err := inventory.Open(c.Context, dbPath, key, inventory.Options{Create: true, AuditHeadFile: headFile(keyPath), Now: clockNow})
	if err != nil {
		os.Remove(keyPath)
		return nil, "", err
	}
	return newSession(st), inventory.Fingerprint(key), nil
}

// headFile is where the audit log's head is kept outside the database:
// beside the master key, which is kept apart from the database.
func headFile(keyPath string) string { return keyPath + ".audit-head" }

// paths are the database and master key files; an empty flag or
// environment variable means the default, as it does for most tools.
func paths(c *cli.Context) (db, key string) {
	return or(c.String("db"), defaultDB()), or(c.String("master-key"), defaultMasterKey())
}

func sealedFingerprint(ctx context.Context, dbPath string) string {
	fp, err := inventory.SealedFingerprint(ctx, dbPath)
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return fp
}

// interruptedRekey explains a wrong key when a rekey stopped between
// committing the inventory and replacing the key file.
func interruptedRekey(ctx context.Context, dbPath, keyPath string) string {
	next, err := inventory.ReadMasterKey(keyPath + ".new")
	if err != nil {
		return ""
	}
	if inventory.Fingerprint(next) != sealedFingerprint(ctx, dbPath) {
		return ""
	}
	return fmt.Sprintf("a rekey was interrupted: the key in %s.new opens the inventory; move it into place: mv %s.new %s", keyPath, keyPath, keyPath)
}

// withSession runs fn on an open inventory.
func withSession(fn func(c *cli.Context, s *session) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		s, err := open(c)
		if err != nil {
			return err
		}
		defer s.Close()
		return fn(c, s)
	}
}

// args checks a command got exactly the arguments it names.
func args(c *cli.Context, names ...string) ([]string, error) {
	if c.NArg() != len(names) {
		path := commandPath(c)
		if len(names) == 0 {
			return nil, usagef("%s takes no arguments, got %d; see %s --help", path, c.NArg(), path)
		}
		return nil, usagef("%s wants %s, got %d argument(s); see %s --help", path, strings.Join(names, " "), c.NArg(), path)
	}
	return c.Args().Slice(), nil
}

func isNotFound(err error) bool { return errors.Is(err, inventory.ErrNotFound) }

// origin is where the CLI's decisions come from, for the authentication
// log: the desk, and the clerk at it.
func (s *session) origin() verify.Origin {
	return verify.Origin{Transport: "cli", Source: s.desk.Actor()}
}
