package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// reasonFlag is --reason of the actions that keep one in the record.
var reasonFlag = &cli.StringFlag{Name: "reason", Usage: "why, in a few words, kept in the record and the audit log (`TEXT`, one line)"}

func fobCommand() *cli.Command {
	serialAction := func(name, usage string, act func(c *cli.Context, s *session, serial string) (string, error), flags ...cli.Flag) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, ArgsUsage: "SERIAL", Flags: append(flags, jsonFlag), Action: withSession(func(c *cli.Context, s *session) error {
			a, err := args(c, "SERIAL")
			if err != nil {
				return err
			}
			msg, err := act(c, s, a[0])
			if err != nil {
				return err
			}
			return done(c, msg, "serial", a[0])
		})}
	}
	return &cli.Command{
		Name:  "fob",
		Usage: "keep the inventory of OTP fobs",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "add one fob typed from a vendor's sheet", ArgsUsage: "SERIAL",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "kind", Usage: "hotp or totp (required)"},
					&cli.StringFlag{Name: "algorithm", Value: "SHA1", Usage: "SHA1, SHA256 or SHA512"},
					&cli.IntFlag{Name: "digits", Value: 6, Usage: "6, 7 or 8"},
					&cli.IntFlag{Name: "period", Value: 30, Usage: "TOTP time step in seconds: 30 or 60 (a fob with another step comes from its seed file: keydesk import)"},
					&cli.Uint64Flag{Name: "counter", Usage: "HOTP counter the fob is at"},
					&cli.StringFlag{Name: "secret-file", Usage: "`FILE` holding the seed in hex or base32, never on the command line (required)"},
					&cli.StringFlag{Name: "secret-format", Value: "auto", Usage: "how the seed is written: auto, hex or base32 (auto takes hex when the text is both)"},
					&cli.BoolFlag{Name: "allow-duplicate-seed", Usage: "store the fob even if another fob has the same seed (refused otherwise)"},
					jsonFlag,
				},
				Action: withSession(fobAdd),
			},
			{
				Name: "list", Usage: "list fobs",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "state", Usage: "stock, assigned, lost or revoked"},
					&cli.StringFlag{Name: "user", Usage: "only the fobs of `USER`"},
					&cli.StringFlag{Name: "batch", Usage: "only the fobs of `BATCH`"},
					&cli.BoolFlag{Name: "summary", Usage: "only the totals, by state and by kind"},
					jsonFlag,
				},
				Action: withSession(fobList),
			},
			{Name: "show", Usage: "show one fob", ArgsUsage: "SERIAL", Flags: []cli.Flag{jsonFlag}, Action: withSession(fobShow)},
			{Name: "assign", Usage: "hand a fob in stock to a user", ArgsUsage: "SERIAL USER", Flags: []cli.Flag{jsonFlag}, Action: withSession(fobAssign)},
			serialAction("unassign", "return a fob to stock", func(c *cli.Context, s *session, serial string) (string, error) {
				return "fob " + serial + " back in stock", s.desk.UnassignFob(c.Context, serial)
			}),
			serialAction("lost", "report a fob lost or stolen: refused at once, kept on record", func(c *cli.Context, s *session, serial string) (string, error) {
				return "fob " + serial + " reported lost; it is refused from now on", s.desk.Because(c.String("reason")).ReportLost(c.Context, serial)
			}, reasonFlag),
			serialAction("revoke", "take a fob out of service for good", func(c *cli.Context, s *session, serial string) (string, error) {
				return "fob " + serial + " revoked", s.desk.Because(c.String("reason")).Revoke(c.Context, serial)
			}, reasonFlag),
			serialAction("unlock", "clear a fob's failures and lock", func(c *cli.Context, s *session, serial string) (string, error) {
				err := s.desk.UnlockFob(c.Context, serial)
				if errors.Is(err, desk.ErrNotLocked) {
					// The clerk wanted the fob unlocked, and it is.
					return "fob " + serial + " was not locked; nothing to do", nil
				}
				return "fob " + serial + " unlocked", err
			}),
			{Name: "resync", Usage: "find a drifted fob again from two consecutive codes", ArgsUsage: "SERIAL CODE1 CODE2",
				Flags: []cli.Flag{jsonFlag}, Action: withSession(fobResync)},
		},
	}
}

func fobAdd(c *cli.Context, s *session) error {
	a, err := args(c, "SERIAL")
	if err != nil {
		return err
	}
	if c.String("kind") == "" || c.String("secret-file") == "" {
		return usagef("fob add needs --kind and --secret-file")
	}
	kind, err := fob.ParseKind(c.String("kind"))
	if err != nil || kind == fob.Yubico {
		return usagef("--kind must be hotp or totp (Yubico OTP fobs come from a seed file: keydesk import)")
	}
	alg, err := fob.ParseAlgorithm(c.String("algorithm"))
	if err != nil {
		return usageError{err}
	}
	switch {
	case kind == fob.TOTP && c.Int("period") != 30 && c.Int("period") != 60:
		return usagef("--period must be 30 or 60, the steps of TOTP fobs sold to type in; a fob with a %d s step comes from its vendor's seed file (keydesk import)", c.Int("period"))
	case kind == fob.HOTP && c.IsSet("period"):
		return usagef("--period is the time step of a TOTP fob; an HOTP fob counts presses (--counter)")
	case kind == fob.TOTP && c.IsSet("counter"):
		return usagef("--counter is the press count of an HOTP fob; a TOTP fob follows the clock (--period)")
	}
	secret, encoding, both, err := readSeed(c.String("secret-file"), c.String("secret-format"))
	if err != nil {
		return err
	}
	if both {
		note(c, "read the seed in %s as hex: %d bytes (it reads as base32 too: say --secret-format base32 if it is)", c.String("secret-file"), len(secret))
	} else {
		note(c, "read the seed in %s as %s: %d bytes", c.String("secret-file"), encoding, len(secret))
	}
	t := fob.Token{Serial: a[0], Kind: kind, Algorithm: alg, Digits: c.Int("digits"), Secret: secret}
	if kind == fob.TOTP {
		t.Period = c.Int("period")
	} else {
		t.Counter = c.Uint64("counter")
	}
	if err := s.desk.AddFob(c.Context, t, desk.AddFobOptions{AllowSharedSeed: c.Bool("allow-duplicate-seed")}); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("added %s fob %s in stock", kind, t.Serial), "serial", t.Serial, "kind", kind, "seed_format", encoding)
}

func fobStatus(v desk.FobView) string {
	s := v.State
	if v.User != "" {
		s += " (" + v.User + ")"
	}
	if v.Locked {
		s += ", locked"
	}
	return s
}

func fobList(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	filter := inventory.FobFilter{User: c.String("user"), Batch: c.String("batch")}
	if c.IsSet("state") {
		st, err := inventory.ParseState(c.String("state"))
		if err != nil {
			return usageError{err}
		}
		filter.State = st
	}
	if c.Bool("summary") {
		return fobSummary(c, s, filter)
	}
	if wantJSON(c) {
		// One JSON array, written as it is read: memory stays flat on a
		// large inventory.
		list := startList(c)
		if err := s.desk.EachFob(c.Context, filter, func(v desk.FobView) error { return list.add(v) }); err != nil {
			return err
		}
		return list.end()
	}
	t := newTable(c.App.Writer, "SERIAL", "KIND", "STATE", "USER", "BATCH", "FAILS", "LAST USED")
	n := 0
	err := s.desk.EachFob(c.Context, filter, func(v desk.FobView) error {
		state := v.State
		if v.Locked {
			state += ",locked"
		}
		t.row(v.Serial, string(v.Kind), state, v.User, v.Batch, fmt.Sprint(v.FailCount), when(v.LastUsedAt))
		n++
		return nil
	})
	t.flush()
	if err != nil {
		return err
	}
	if n == 0 {
		note(c, "no fobs match")
	}
	if filter == (inventory.FobFilter{}) && n > 0 {
		counts, err := s.desk.FobCounts(c.Context)
		if err != nil {
			return err
		}
		note(c, "%d fobs: %d in stock, %d assigned, %d lost, %d revoked", n,
			counts[inventory.InStock], counts[inventory.Assigned], counts[inventory.Lost], counts[inventory.Revoked])
	}
	return nil
}

// fobSummary prints only the totals of the fobs a filter selects.
func fobSummary(c *cli.Context, s *session, filter inventory.FobFilter) error {
	t, err := s.desk.FobTotals(c.Context, filter)
	if err != nil {
		return err
	}
	return answer(c, t, func() {
		say(c, "%s: %d in stock, %d assigned, %d lost, %d revoked", plural(t.Total, "fob", "fobs"),
			t.ByState[inventory.InStock], t.ByState[inventory.Assigned], t.ByState[inventory.Lost], t.ByState[inventory.Revoked])
		var kinds []string
		for _, k := range []fob.Kind{fob.HOTP, fob.TOTP, fob.Yubico} {
			if n := t.ByKind[k]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
			}
		}
		if len(kinds) > 0 {
			say(c, "by kind: %s", strings.Join(kinds, ", "))
		}
	})
}

func fobShow(c *cli.Context, s *session) error {
	a, err := args(c, "SERIAL")
	if err != nil {
		return err
	}
	v, err := s.desk.Fob(c.Context, a[0])
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, v)
	}
	say(c, "serial:     %s", v.Serial)
	switch v.Kind {
	case fob.HOTP:
		say(c, "kind:       HOTP, %s, %d digits, counter %d", v.Algorithm, v.Digits, v.Counter)
	case fob.TOTP:
		say(c, "kind:       TOTP, %s, %d digits, %d s step, drift %+d steps", v.Algorithm, v.Digits, v.Period, v.Drift)
	case fob.Yubico:
		say(c, "kind:       Yubico OTP, public id %s", v.PublicID)
	}
	say(c, "state:      %s since %s", fobStatus(v), when(v.Since))
	if v.Reason != "" {
		say(c, "reason:     %s", v.Reason)
	}
	switch {
	case !v.NotBefore.IsZero() && !v.NotAfter.IsZero():
		say(c, "valid:      from %s until %s (the seed file's dates)", when(v.NotBefore), when(v.NotAfter))
	case !v.NotAfter.IsZero():
		say(c, "valid:      until %s (the seed file's date)", when(v.NotAfter))
	case !v.NotBefore.IsZero():
		say(c, "valid:      from %s (the seed file's date)", when(v.NotBefore))
	}
	say(c, "failures:   %d", v.FailCount)
	if v.Batch != "" {
		say(c, "batch:      %s", v.Batch)
	}
	if v.Vendor != "" || v.Model != "" {
		say(c, "made by:    %s %s", v.Vendor, v.Model)
	}
	say(c, "last used:  %s", or(when(v.LastUsedAt), "never"))
	return nil
}

func fobAssign(c *cli.Context, s *session) error {
	a, err := args(c, "SERIAL", "USER")
	if err != nil {
		return err
	}
	if err := s.desk.AssignFob(c.Context, a[0], a[1]); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("fob %s assigned to %s", a[0], a[1]), "serial", a[0], "user", a[1])
}

func fobResync(c *cli.Context, s *session) error {
	a, err := args(c, "SERIAL", "CODE1", "CODE2")
	if err != nil {
		return err
	}
	res, err := s.desk.Resync(c.Context, a[0], a[1], a[2])
	if err != nil {
		return err
	}
	return answer(c, res, func() {
		say(c, "fob %s resynced: %s", a[0], res)
		if res.Unlocked {
			say(c, "its failures are cleared")
		}
	})
}
