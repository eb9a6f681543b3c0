package main

import (
	"fmt"

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
					&cli.StringFlag{Name: "ttl", Value: "1h", Usage: "lifetime of the codes: 90m, 12h, 3d"},
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
	ttl, err := durationFlag(c, "ttl")
	if err != nil {
		return err
	}
	out, err := s.desk.IssueBypass(c.Context, verify.BypassRequest{User: a[0], Uses: c.Int("uses"), TTL: ttl, Count: c.Int("count")})
	if err != nil {
		return err
	}
	// The codes are the one thing keydesk prints that opens an account:
	// shown this once, to be handed to the user, and never stored.
	return answer(c, out, func() {
		for _, code := range out.Codes {
			say(c, "%s", code)
		}
		note(c, "%s for %s, %s each, until %s; they are not shown again",
			plural(len(out.Codes), "bypass code", "bypass codes"), a[0], plural(out.Uses, "use", "uses"), when(out.ExpiresAt))
	})
}

func bypassList(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	codes, err := s.desk.BypassCodes(c.Context, a[0])
	if err != nil {
		return err
	}
	return printList(c, codes, []string{"ID", "USES LEFT", "EXPIRES", "ISSUED BY", "ISSUED"}, func(b inventory.BypassCode) []string {
		return []string{"#" + itoa(int(b.ID)), itoa(b.UsesLeft), when(b.ExpiresAt), b.CreatedBy, when(b.CreatedAt)}
	})
}

func bypassRevoke(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	n, err := s.desk.RevokeBypass(c.Context, a[0])
	if err != nil {
		return err
	}
	return done(c, fmt.Sprintf("%s of %s revoked", plural(n, "bypass code", "bypass codes"), a[0]), "user", a[0], "revoked", n)
}
