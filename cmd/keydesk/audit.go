package main

import (
	"crypto/rand"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "show the audit log (who did what, when)",
		Flags: []cli.Flag{&cli.IntFlag{Name: "limit", Usage: "only the newest `N` entries"}, jsonFlag},
		Subcommands: []*cli.Command{
			{Name: "verify", Usage: "check that no entry was changed, removed or inserted", Flags: []cli.Flag{jsonFlag}, Action: withSession(auditVerify)},
		},
		Action: withSession(auditShow),
	}
}

func auditShow(c *cli.Context, s *session) error {
	if c.Args().Present() {
		return usagef("audit has no subcommand %q; see keydesk audit --help", c.Args().First())
	}
	if wantJSON(c) {
		return s.store.AuditLog(c.Context, c.Int("limit"), func(e inventory.AuditEntry) error {
			return printJSONLine(c, e)
		})
	}
	t := newTable(c.App.Writer, "#", "WHEN", "WHO", "WHAT", "ON", "DETAIL")
	err := s.store.AuditLog(c.Context, c.Int("limit"), func(e inventory.AuditEntry) error {
		t.row(itoa(int(e.ID)), when(e.At), e.Actor, e.Action, e.Subject, e.Detail)
		return nil
	})
	t.flush()
	return err
}

func auditVerify(c *cli.Context, s *session) error {
	sum, err := s.store.VerifyAudit(c.Context)
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, sum)
	}
	say(c, "audit log verified: %d entries, chain head %s", sum.Entries, sum.HeadMAC)
	return nil
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
			next := keyPath + ".new"
			key, err := inventory.NewMasterKey(rand.Reader)
			if err != nil {
				return err
			}
			// The new key is on disk before the inventory depends on it,
			// so no crash can leave an inventory without its key.
			if err := inventory.WriteMasterKey(next, key); err != nil {
				return fmt.Errorf("%w (remove %s if it is left from an earlier rekey that did not finish)", err, next)
			}
			old := s.store.MasterKeyFingerprint()
			if err := s.store.Rekey(c.Context, key, actor()); err != nil {
				os.Remove(next)
				return err
			}
			if err := os.Rename(next, keyPath); err != nil {
				return fmt.Errorf("the inventory is sealed under the new key in %s, but moving it into place failed: %w; run: mv %s %s", next, err, next, keyPath)
			}
			return done(c, fmt.Sprintf("master key %s replaced by %s in %s; copy the new key to where you keep the old one", old, s.store.MasterKeyFingerprint(), keyPath))
		}),
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
