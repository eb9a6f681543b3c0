package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "inventory database `PATH`", EnvVars: []string{"KEYDESK_DB"}, Value: defaultDB()},
		&cli.StringFlag{Name: "master-key", Usage: "master key file `PATH` (kept apart from the database)",
			EnvVars: []string{"KEYDESK_MASTER_KEY_FILE"}, Value: defaultMasterKey()},
		jsonFlag,
	}
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}

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

// session is an open inventory and what acts on it, for one command.
type session struct {
	store *inventory.Store
	desk  *desk.Desk
	ver   *verify.Verifier
}

func (s *session) Close() { s.store.Close() }

// open opens the inventory named by the flags. A new inventory gets a new
// master key; an existing one is never re-keyed behind the clerk's back:
// a missing or wrong key is an error that names the key it needs.
func open(c *cli.Context) (*session, error) {
	dbPath, keyPath := paths(c)
	exists := inventory.Exists(dbPath)
	key, err := inventory.ReadMasterKey(keyPath)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist) && !exists:
		if key, err = inventory.NewMasterKey(rand.Reader); err != nil {
			return nil, err
		}
		if err := inventory.WriteMasterKey(keyPath, key); err != nil {
			return nil, err
		}
		fmt.Fprintf(c.App.ErrWriter, "keydesk: new inventory %s, sealed under the new master key %s (fingerprint %s); keep a copy of the key apart from the database\n",
			dbPath, keyPath, inventory.Fingerprint(key))
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("master key %s is missing, and the inventory %s needs the key with fingerprint %s; restore it from your copy (keydesk never makes a new key for an existing inventory)",
			keyPath, dbPath, sealedFingerprint(c.Context, dbPath))
	default:
		return nil, err
	}
	st, err := inventory.Open(c.Context, dbPath, key, inventory.Options{Create: !exists})
	if errors.Is(err, inventory.ErrWrongKey) {
		if hint := interruptedRekey(c.Context, dbPath, keyPath); hint != "" {
			err = fmt.Errorf("%w\n%s", err, hint)
		}
	}
	if err != nil {
		return nil, err
	}
	return &session{
		store: st,
		desk:  &desk.Desk{Store: st, Actor: actor()},
		ver:   verify.New(st, verify.DefaultPolicy),
	}, nil
}

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
		return nil, usagef("%s wants %d argument(s) (%v), got %d; see keydesk %s --help",
			c.Command.FullName(), len(names), names, c.NArg(), c.Command.FullName())
	}
	return c.Args().Slice(), nil
}
