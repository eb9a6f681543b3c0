package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a code: a fob's at the counter (--serial), or a user's passcode (--user)",
		ArgsUsage: "[CODE]",
		Description: "Without CODE, a user with a registered security key is asked to touch it; otherwise the\n" +
			"code is asked for on a terminal, or read as one line from standard input. Spaces and\n" +
			"dashes inside a code are ignored. Exit status 0 means allow, 1 deny (or no decision).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "serial", Usage: "test the fob with serial `SERIAL`"},
			&cli.StringFlag{Name: "user", Usage: "check a passcode of `USER` (any fob, or a bypass code)"},
			deviceFlag, rpIDFlag, originFlag, appIDFlag, touchFlag, pinFileFlag,
			jsonFlag,
		},
		Action: withSession(verifyAction),
	}
}

func verifyAction(c *cli.Context, s *session) error {
	serial, user := c.String("serial"), c.String("user")
	if (serial == "") == (user == "") {
		return usagef("verify needs exactly one of --serial or --user")
	}
	if c.NArg() > 1 {
		return usagef("verify takes one CODE, got %d arguments", c.NArg())
	}
	code := c.Args().First()
	if code == "" && user != "" {
		keys, err := s.desk.Keys(c.Context, user)
		if err != nil && !isNotFound(err) {
			return err
		}
		if len(keys) > 0 {
			return verifyTouch(c, s, user)
		}
	}
	if code == "" {
		var err error
		if code, err = promptLine(c, "Code: "); err != nil {
			return err
		}
		if code == "" {
			return usagef("no code given: pass CODE, or one line on standard input")
		}
	}
	var d verify.Decision
	var err error
	if serial != "" {
		d, err = s.ver.VerifySerial(c.Context, serial, code, s.origin())
	} else {
		d, err = s.ver.VerifyUser(c.Context, user, code, s.origin())
	}
	if err != nil {
		return fmt.Errorf("no decision: %w", err)
	}
	return printDecision(c, d)
}

// verifyTouch checks a user with the security key plugged in.
func verifyTouch(c *cli.Context, s *session, user string) error {
	return testTouch(c, s, user, func(d verify.Decision) error { return printDecision(c, d) })
}
