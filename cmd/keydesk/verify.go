package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keydesk/keydesk/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a code: a fob's at the counter (--serial), or a user's passcode (--user)",
		ArgsUsage: "[CODE]",
		Description: "Without CODE, a user with a registered security key is asked to touch it; otherwise the\n" +
			"code is asked for on a terminal, or read as one line from standard input.\n" +
			"Exit status 0 means allow, 1 deny (or no decision could be made).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "serial", Usage: "test the fob with serial `SERIAL`"},
			&cli.StringFlag{Name: "user", Usage: "check a passcode of `USER` (any fob, or a bypass code)"},
			deviceFlag, appIDFlag, touchFlag,
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
		keys, err := s.store.UserKeys(c.Context, user)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			return verifyTouch(c, s, user)
		}
	}
	if code == "" {
		var err error
		if code, err = readCode(c); err != nil {
			return err
		}
	}
	var d verify.Decision
	var err error
	if serial != "" {
		d, err = s.ver.VerifySerial(c.Context, serial, code)
	} else {
		d, err = s.ver.VerifyUser(c.Context, user, code)
	}
	if err != nil {
		return fmt.Errorf("no decision: %w", err)
	}
	return printDecision(c, d)
}

// readCode asks for the code on a terminal, or reads one line from a pipe,
// so that scripts can keep codes out of the process list.
func readCode(c *cli.Context) (string, error) {
	in := c.App.Reader
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(c.App.ErrWriter, "Code: ")
	}
	line, err := bufio.NewReader(io.LimitReader(in, 1024)).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		if err != nil && err != io.EOF {
			return "", err
		}
		return "", usagef("no code given: pass CODE, or one line on standard input")
	}
	return line, nil
}

type decisionView struct {
	Result     string `json:"result"`
	Reason     string `json:"reason"`
	ReasonCode string `json:"reason_code"`
	Serial     string `json:"serial,omitempty"`
	Method     string `json:"method,omitempty"`
}

func printDecision(c *cli.Context, d verify.Decision) error {
	v := decisionView{Result: "deny", Reason: d.Reason(), ReasonCode: d.ReasonCode(), Serial: d.Serial, Method: d.Method}
	if d.Allow {
		v.Result = "allow"
	}
	if wantJSON(c) {
		if err := printJSON(c, v); err != nil {
			return err
		}
	} else {
		say(c, "%s: %s", v.Result, v.Reason)
	}
	if !d.Allow {
		return silentFail{}
	}
	return nil
}

// verifyTouch checks a user with the security key plugged in.
func verifyTouch(c *cli.Context, s *session, user string) error {
	p, cl, _, err := keyAtDesk(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := s.ver.TestKey(c.Context, cl, user, p, actor())
	switch {
	case err == nil:
		return printDecision(c, verify.Decision{Allow: true, Method: "key", Serial: fmt.Sprintf("key #%d %q", res.Key.ID, res.Key.Name)})
	case errors.Is(err, verify.ErrCounter), errors.Is(err, verify.ErrNoKey), errors.Is(err, verify.ErrBadSignature), errors.Is(err, verify.ErrNoPresence):
		return printDecision(c, verify.Decision{Denial: err})
	}
	return fmt.Errorf("no decision: %w", err)
}
