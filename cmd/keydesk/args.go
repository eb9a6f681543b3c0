package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// interspersed moves flags given after positional arguments in front of
// them, for the command the arguments name: urfave/cli stops parsing flags
// at the first positional argument, and a clerk types
// "keydesk user add alice --email a@x" as often as the other way round.
// "--" still ends the flags.
//
// Global flags (--db, --master-key, --json) may stand anywhere: they are
// moved in front of the command, where urfave/cli reads them.
func interspersed(app *cli.App, args []string) []string {
	// Not app.Flags: --help stays with the command it asks about.
	global, rest := hoistGlobal(globalFlags(), args[1:])
	out := append([]string{args[0]}, global...)
	flags := app.Flags
	cmds := app.Commands
	for {
		// Global or group flags stay where they are, up to the next word.
		i := 0
		for i < len(rest) && strings.HasPrefix(rest[i], "-") && rest[i] != "--" {
			i += flagWidth(flags, rest[i], rest[i+1:])
		}
		out = append(out, rest[:min(i, len(rest))]...)
		if i >= len(rest) {
			return out
		}
		rest = rest[i:]
		cmd := findCommand(cmds, rest[0])
		if cmd == nil || rest[0] == "--" {
			return append(out, rest...)
		}
		out = append(out, rest[0])
		rest = rest[1:]
		if len(cmd.Subcommands) > 0 {
			flags, cmds = cmd.Flags, cmd.Subcommands
			if next := firstWord(cmd.Flags, rest); next < len(rest) && findCommand(cmds, rest[next]) != nil {
				continue
			}
		}
		return append(out, reorder(cmd.Flags, rest)...)
	}
}

// hoistGlobal takes the global flags, with their values, out of args.
func hoistGlobal(flags []cli.Flag, args []string) (global, rest []string) {
	for i := 0; i < len(args); {
		a := args[i]
		if a == "--" {
			return global, append(rest, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && isFlag(flags, a) {
			w := flagWidth(flags, a, args[i+1:])
			global = append(global, args[i:min(i+w, len(args))]...)
			i += w
			continue
		}
		rest = append(rest, a)
		i++
	}
	return global, rest
}

// isFlag reports whether arg names one of flags ("--db", "-db=x").
func isFlag(flags []cli.Flag, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func firstWord(flags []cli.Flag, args []string) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		i += flagWidth(flags, args[i], args[i+1:])
	}
	return i
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// reorder puts a leaf command's flags before its positional arguments.
func reorder(flags []cli.Flag, args []string) []string {
	var fl, pos []string
	for i := 0; i < len(args); {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			w := flagWidth(flags, a, args[i+1:])
			fl = append(fl, args[i:min(i+w, len(args))]...)
			i += w
			continue
		}
		pos = append(pos, a)
		i++
	}
	return append(fl, pos...)
}

// flagWidth is how many words a flag takes: 2 for "--db PATH", 1 for a
// boolean, "--db=PATH" or an unknown flag (left for the parser to refuse).
func flagWidth(flags []cli.Flag, arg string, rest []string) int {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, isBool := f.(*cli.BoolFlag); isBool || len(rest) == 0 {
				return 1
			}
			return 2
		}
	}
	return 1
}

// parseDuration reads a duration as a clerk types it: Go's units (90m,
// 12h, 1h30m) and days (3d, 1d12h).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a duration such as 90m, 12h or 3d", s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, bad
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return days + d, nil
}

// durationFlag is the duration a string flag gives, as a usage error if
// it is not one.
func durationFlag(c *cli.Context, name string) (time.Duration, error) {
	d, err := parseDuration(c.String(name))
	if err != nil {
		return 0, usagef("--%s: %v", name, err)
	}
	return d, nil
}

// sinceFlag reads --since: a duration back from now (24h, 7d), a date
// (2026-11-30, local midnight) or an RFC 3339 time. Unset is the zero
// time: no bound.
func sinceFlag(c *cli.Context) (time.Time, error) {
	v := strings.TrimSpace(c.String("since"))
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := parseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q: want a duration back (24h, 7d), a date (2026-11-30) or an RFC 3339 time", v)
}
