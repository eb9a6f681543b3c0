package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "show the audit log (who did what, when)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Usage: "only the entries about `USER`"},
			&cli.StringFlag{Name: "fob", Usage: "only the entries about the fob with serial `SERIAL`"},
			&cli.StringFlag{Name: "since", Usage: "only the entries since `WHEN`: a duration back (24h, 7d) or a date (2026-11-30, RFC 3339)"},
			&cli.IntFlag{Name: "limit", Usage: "only the newest `N` entries"},
			jsonFlag,
		},
		Subcommands: []*cli.Command{
			{Name: "verify", Usage: "check that no entry was changed, removed or inserted", Flags: []cli.Flag{jsonFlag}, Action: withSession(auditVerify)},
		},
		Action: withSession(auditShow),
	}
}

func auditShow(c *cli.Context, s *session) error {
	if c.Args().Present() {
		return usagef("keydesk audit has no subcommand %q; see keydesk audit --help", c.Args().First())
	}
	since, err := sinceFlag(c)
	if err != nil {
		return err
	}
	f := inventory.AuditFilter{Since: since, Limit: c.Int("limit")}
	if u := c.String("user"); u != "" {
		f.Subjects = append(f.Subjects, "user "+u)
	}
	if serial := c.String("fob"); serial != "" {
		f.Subjects = append(f.Subjects, "fob "+serial)
	}
	entries, err := s.desk.AuditLog(c.Context, f)
	if err != nil {
		return err
	}
	return printList(c, entries, []string{"#", "WHEN", "WHO", "WHAT", "ON", "DETAIL"}, func(e inventory.AuditEntry) []string {
		return []string{itoa(int(e.ID)), when(e.At), e.Actor, e.Action, e.Subject, e.Detail}
	})
}

func auditVerify(c *cli.Context, s *session) error {
	sum, err := s.desk.VerifyAudit(c.Context)
	if err != nil {
		return err
	}
	if sum.Warning != "" {
		note(c, "warning: %s", sum.Warning)
	}
	return answer(c, sum, func() {
		say(c, "audit log verified: %d entries, chain head %s", sum.Entries, sum.HeadMAC)
		if sum.HeadFile != "" && sum.Warning == "" {
			say(c, "the head kept in %s agrees", sum.HeadFile)
		}
	})
}

func rekeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "rekey",
		Usage: "seal the inventory under a new master key (the old key stops working)",
		Flags: []cli.Flag{jsonFlag},
		Action: withSession(func(c *cli.Context, s *session) error {
			if _, err := args(c); err != nil {
				return err
			}
			_, keyPath := paths(c)
			r, err := s.desk.Rekey(c.Context, keyPath)
			if err != nil {
				return err
			}
			return done(c, fmt.Sprintf("master key %s replaced by %s in %s; copy the new key to where you keep the old one", r.Old, r.New, r.KeyFile),
				"old_fingerprint", r.Old, "new_fingerprint", r.New, "key_file", r.KeyFile)
		}),
	}
}
