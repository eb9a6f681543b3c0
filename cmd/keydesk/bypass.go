package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func bypassCommand() *cli.Command {
	return &cli.Command{
		Name:  "bypass",
		Usage: "temporary bypass codes for a user without a device",
		Subcommands: []*cli.Command{
			{
				Name: "issue", Usage: "make bypass codes (shown once)", ArgsUsage: "USER",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "uses", Value: verify.DefaultPolicy.BypassUses, Usage: "uses of each code"},
					&cli.DurationFlag{Name: "ttl", Value: verify.DefaultPolicy.BypassTTL, Usage: "lifetime of the codes"},
					&cli.IntFlag{Name: "count", Value: 1, Usage: "how many codes"},
					jsonFlag,
				},
				Action: withSession(bypassIssue),
			},
			{Name: "list", Usage: "list a user's live codes (not the codes themselves)", ArgsUsage: "USER", Flags: []cli.Flag{jsonFlag}, Action: withSession(bypassList)},
			{Name: "revoke", Usage: "end all of a user's live codes", ArgsUsage: "USER", Flags: []cli.Flag{jsonFlag}, Action: withSession(bypassRevoke)},
		},
	}
}

func bypassIssue(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	out, err := s.ver.IssueBypass(c.Context, verify.BypassRequest{
		User: a[0], Uses: c.Int("uses"), TTL: c.Duration("ttl"), Count: c.Int("count"), Actor: actor(),
	})
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, out)
	}
	// The codes are the one thing keydesk prints that opens an account:
	// shown this once, to be handed to the user, and never stored.
	for _, code := range out.Codes {
		say(c, "%s", code)
	}
	note(c, "%d bypass code(s) for %s, %d use(s) each, until %s; they are not shown again",
		len(out.Codes), a[0], out.Uses, out.ExpiresAt.Local().Format(time.RFC1123))
	return nil
}

func bypassList(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	u, err := s.store.User(c.Context, a[0])
	if err != nil {
		return err
	}
	codes, err := s.store.BypassCodes(c.Context, u.ID)
	if err != nil {
		return err
	}
	if wantJSON(c) {
		if codes == nil {
			codes = []inventory.BypassCode{}
		}
		return printJSON(c, codes)
	}
	t := newTable(c.App.Writer, "ID", "USES LEFT", "EXPIRES", "ISSUED BY", "ISSUED")
	for _, b := range codes {
		t.row("#"+itoa(int(b.ID)), itoa(b.UsesLeft), when(b.ExpiresAt), b.CreatedBy, when(b.CreatedAt))
	}
	t.flush()
	return nil
}

func bypassRevoke(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	n, err := s.ver.RevokeBypass(c.Context, a[0], actor())
	if err != nil {
		return err
	}
	return done(c, fmt.Sprintf("%d bypass code(s) of %s revoked", n, a[0]))
}
