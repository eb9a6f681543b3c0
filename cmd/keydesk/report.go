package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
)

// reportUsage says what each report lists, for help.
var reportUsage = map[string]string{
	desk.ReportNoFactor: "users with no usable fob, phone app, key or live bypass code (a locked user still has factors)",
	desk.ReportStock:    "fobs by batch and state",
	desk.ReportUnused:   "assigned fobs, phone apps and keys with no success for --days N (a factor never used counts from when its holder got it)",
	desk.ReportExpiring: "fobs in stock or assigned whose seed file's expiry date falls within --days N, and those already past it",
	desk.ReportLocked:   "users and fobs locked now (a lock past its cool-down has ended)",
	desk.ReportBypass:   "live bypass codes, by user and expiry (never the codes)",
}

func reportCommand() *cli.Command {
	var subs []*cli.Command
	for _, name := range desk.Reports {
		flags := []cli.Flag{
			&cli.BoolFlag{Name: "csv", Usage: "print CSV with a header row, for a spreadsheet"},
			jsonFlag,
		}
		if def, ok := desk.DefaultDays[name]; ok {
			flags = append([]cli.Flag{&cli.IntFlag{Name: "days", Value: def, Usage: fmt.Sprintf("`N` days, 1 to %d", desk.MaxDays)}}, flags...)
		}
		subs = append(subs, &cli.Command{Name: name, Usage: reportUsage[name], Flags: flags, Action: withSession(reportAction(name))})
	}
	return &cli.Command{
		Name:        "report",
		Usage:       "the help desk's reports: " + strings.Join(desk.Reports, ", "),
		Description: "Text for a clerk, --csv for a spreadsheet, --json for scripts (the admin API's\nGET /v1/admin/reports/NAME answers the same document, a page at a time).",
		Subcommands: subs,
	}
}

func reportAction(name string) func(c *cli.Context, s *session) error {
	return func(c *cli.Context, s *session) error {
		if _, err := args(c); err != nil {
			return err
		}
		if c.Bool("csv") && wantJSON(c) {
			return usagef("give --csv or --json, not both")
		}
		if c.IsSet("days") && (c.Int("days") < 1 || c.Int("days") > desk.MaxDays) {
			return usagef("--days must be 1 to %d, not %d", desk.MaxDays, c.Int("days"))
		}
		r, err := s.desk.Report(c.Context, name, desk.ReportQuery{Days: c.Int("days")})
		if err != nil {
			return err
		}
		if wantJSON(c) {
			return printJSON(c, r)
		}
		if c.Bool("csv") {
			header, rows := reportCells(r, true)
			for i, h := range header {
				header[i] = strings.ReplaceAll(strings.ToLower(h), " ", "_")
			}
			return printCSV(c, header, rows)
		}
		header, rows := reportCells(r, false)
		if len(rows) == 0 {
			note(c, "%s", emptyReport(r))
			return nil
		}
		printTable(c, header, rows)
		return nil
	}
}

func emptyReport(r desk.Report) string {
	switch r.Name {
	case desk.ReportNoFactor:
		return "every user has a usable factor"
	case desk.ReportStock:
		return "no fobs in the inventory"
	case desk.ReportUnused:
		return fmt.Sprintf("every assigned fob, phone app and key was used, or handed out, within the last %s", plural(r.Days, "day", "days"))
	case desk.ReportExpiring:
		return fmt.Sprintf("no fob expires within %s", plural(r.Days, "day", "days"))
	case desk.ReportLocked:
		return "nothing is locked"
	}
	return "no live bypass codes"
}

// reportCells is a report as a header and rows of text, for a clerk or,
// with forCSV, for a spreadsheet: moments in RFC 3339, and no total row.
func reportCells(r desk.Report, forCSV bool) ([]string, [][]string) {
	at := when
	if forCSV {
		at = rfc3339
	}
	var rows [][]string
	switch list := r.Rows.(type) {
	case []inventory.NoFactorUser:
		for _, u := range list {
			rows = append(rows, []string{u.Name, u.FullName, u.Email, map[bool]string{true: "disabled", false: "active"}[u.Disabled],
				heldBefore(u), at(u.CreatedAt)})
		}
		return []string{"USER", "FULL NAME", "EMAIL", "STATUS", "NO LONGER WORKING", "ADDED"}, rows
	case []inventory.StockRow:
		var sum inventory.StockRow
		for _, b := range list {
			rows = append(rows, []string{or(b.Batch, "(typed in)"), at(b.ImportedAt), itoa(b.Stock), itoa(b.Assigned), itoa(b.Lost), itoa(b.Revoked), itoa(b.Total)})
			sum.Stock, sum.Assigned, sum.Lost, sum.Revoked, sum.Total = sum.Stock+b.Stock, sum.Assigned+b.Assigned, sum.Lost+b.Lost, sum.Revoked+b.Revoked, sum.Total+b.Total
		}
		if len(rows) > 1 && !forCSV {
			rows = append(rows, []string{"all", "", itoa(sum.Stock), itoa(sum.Assigned), itoa(sum.Lost), itoa(sum.Revoked), itoa(sum.Total)})
		}
		return []string{"BATCH", "IMPORTED", "STOCK", "ASSIGNED", "LOST", "REVOKED", "TOTAL"}, rows
	case []inventory.UnusedFactor:
		for _, f := range list {
			idle := f.Since
			if f.LastUsedAt.After(idle) {
				idle = f.LastUsedAt
			}
			label := "fob " + f.Serial
			switch f.Kind {
			case "phone":
				label = "phone app (fob " + f.Serial + ")"
			case "key":
				label = fmt.Sprintf("key #%d %q", f.KeyID, f.KeyName)
			}
			rows = append(rows, []string{label, f.User, at(f.Since), or(at(f.LastUsedAt), "never"), itoa(int(r.AsOf.Sub(idle) / (24 * time.Hour)))})
		}
		return []string{"FACTOR", "USER", "SINCE", "LAST USED", "IDLE DAYS"}, rows
	case []desk.ExpiringFob:
		for _, f := range list {
			status := "expires in " + plural(int(f.NotAfter.Sub(r.AsOf)/(24*time.Hour)), "day", "days")
			if f.Expired {
				status = "expired"
			}
			rows = append(rows, []string{f.Serial, string(f.Kind), string(f.State), f.User, f.Batch, at(f.NotAfter), status})
		}
		return []string{"SERIAL", "KIND", "STATE", "USER", "BATCH", "EXPIRES", "STATUS"}, rows
	case []desk.LockedNow:
		for _, l := range list {
			user := l.User
			if l.Kind == "user" {
				user = ""
			}
			rows = append(rows, []string{l.Kind, l.Name, user, itoa(l.FailCount), at(l.LockedAt), or(at(l.EndsAt), "when an admin unlocks")})
		}
		return []string{"KIND", "NAME", "HOLDER", "FAILURES", "LOCKED", "ENDS"}, rows
	case []inventory.LiveBypass:
		for _, b := range list {
			rows = append(rows, []string{b.User, "#" + strconv.FormatInt(b.ID, 10), itoa(b.UsesLeft), at(b.ExpiresAt), b.CreatedBy, at(b.CreatedAt)})
		}
		return []string{"USER", "CODE", "USES LEFT", "EXPIRES", "ISSUED BY", "ISSUED"}, rows
	}
	panic(fmt.Sprintf("report %s: rows of type %T", r.Name, r.Rows))
}

// heldBefore says what a user without a usable factor still holds.
func heldBefore(u inventory.NoFactorUser) string {
	var out []string
	if u.LostFobs > 0 {
		out = append(out, plural(u.LostFobs, "fob", "fobs")+" lost or revoked")
	}
	if u.OutOfDate > 0 {
		out = append(out, plural(u.OutOfDate, "fob", "fobs")+" outside the seed file's dates")
	}
	if u.LostKeys > 0 {
		out = append(out, plural(u.LostKeys, "key", "keys")+" lost")
	}
	return strings.Join(out, ", ")
}
