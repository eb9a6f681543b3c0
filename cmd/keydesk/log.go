package main

import (
	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
)

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "the authentication log: every decision, newest first (why did a login fail?)",
		Description: "Each line is one decision of keydesk verify, the HTTP API or RADIUS: when, who, with which\n" +
			"factor, from which application or NAS and address, and the result with its reason.\n" +
			"Entries are kept for the server's auth_log_days (180 by default).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Usage: "only the decisions about `USER`"},
			&cli.StringFlag{Name: "app", Usage: "only the decisions asked by application or RADIUS client `APP`"},
			&cli.StringFlag{Name: "result", Usage: "only allow or only deny"},
			&cli.StringFlag{Name: "since", Usage: "only the decisions since `WHEN`: a duration back (24h, 7d) or a date"},
			&cli.IntFlag{Name: "limit", Value: inventory.DefaultAuthLimit, Usage: "at most `N` decisions"},
			jsonFlag,
		},
		Action: withSession(logShow),
	}
}

func logShow(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	since, err := sinceFlag(c)
	if err != nil {
		return err
	}
	f := inventory.AuthFilter{User: c.String("user"), App: c.String("app"), Result: c.String("result"), Since: since, Limit: c.Int("limit")}
	if f.Result != "" && f.Result != "allow" && f.Result != "deny" {
		return usagef("--result must be allow or deny, not %q", f.Result)
	}
	if f.Limit < 1 || f.Limit > inventory.MaxAuthLimit {
		return usagef("--limit must be 1 to %d", inventory.MaxAuthLimit)
	}
	entries, err := s.desk.AuthLog(c.Context, f)
	if err != nil {
		return err
	}
	return printList(c, entries, authHeader, authRow)
}

var authHeader = []string{"WHEN", "USER", "FACTOR", "VIA", "FROM", "RESULT", "REASON"}

func authRow(e inventory.AuthEntry) []string {
	via := e.Transport
	if e.App != "" {
		via += " " + e.App
	}
	from := e.Source
	if e.NASIdentifier != "" {
		from += " (" + e.NASIdentifier + ")"
	}
	if e.CallingStation != "" {
		from += " for " + e.CallingStation
	}
	return []string{when(e.At), e.User, e.Factor, via, from, e.Result, e.Reason}
}
