package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/server"
)

func directoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "directory",
		Usage: "the users' directory (LDAP or Active Directory): sync keydesk's users with its group",
		Subcommands: []*cli.Command{{
			Name:  "sync",
			Usage: "create, update and disable users to follow the directory's scope group",
			Description: "Reads the directory section of the server's config file (--config). Users are matched by\n" +
				"their immutable directory id, so a renamed user keeps their fobs and keys; a user who left\n" +
				"the group or is disabled in the directory is disabled here, never deleted. A sync that would\n" +
				"disable more than max_disable_share of the directory's users stops and says so.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "config", Usage: "the server's JSON config `FILE`, which holds the directory section (required)"},
				&cli.BoolFlag{Name: "dry-run", Usage: "say what would change, change nothing"},
				&cli.BoolFlag{Name: "force", Usage: "disable more than max_disable_share of the users, when that is meant"},
				jsonFlag,
			},
			Action: withSession(directorySync),
		}},
	}
}

func directorySync(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	if c.String("config") == "" {
		return usagef("directory sync needs --config FILE, the server's config with its directory section")
	}
	cfg, err := server.LoadConfig(c.String("config"))
	if err != nil {
		return err
	}
	if cfg.Directory == nil {
		return fmt.Errorf("%s has no directory section", c.String("config"))
	}
	cfg.Directory.Default()
	dir, err := directory.New(*cfg.Directory)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	defer dir.Close()
	opts := cfg.Directory.PlanOptions()
	opts.Force = c.Bool("force")
	rep, err := s.desk.SyncDirectory(c.Context, dir, opts, c.Bool("dry-run"))
	if errors.Is(err, directory.ErrGuard) {
		return fmt.Errorf("%w; nothing changed", err)
	}
	if err != nil {
		return err
	}
	return answer(c, rep, func() { printSync(c, rep) })
}

func printSync(c *cli.Context, rep desk.SyncReport) {
	verb := "synced"
	if rep.DryRun {
		verb = "dry run, nothing changed"
	}
	say(c, "directory %s: %s", verb, rep)
	for _, u := range rep.Created {
		say(c, "  created  %s", u)
	}
	for _, u := range rep.Adopted {
		say(c, "  linked   %s", u)
	}
	for _, u := range rep.Updated {
		say(c, "  updated  %s", u)
	}
	for _, u := range rep.Disabled {
		say(c, "  disabled %s (%s; %s kept)", u.User, u.Reason, plural(u.Fobs, "fob", "fobs"))
	}
	for _, u := range rep.Enabled {
		say(c, "  enabled  %s", u)
	}
	for _, x := range rep.Conflicts {
		say(c, "  conflict %s", x)
	}
}
