package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
)

func userCommand() *cli.Command {
	return &cli.Command{
		Name:  "user",
		Usage: "add, list, show, disable, unlock and invite users",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "add a user", ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "full-name", Usage: "the person's full name"},
					&cli.StringFlag{Name: "email", Usage: "the person's email address"},
					jsonFlag,
				},
				Action: withSession(userAdd),
			},
			{Name: "list", Usage: "list users", Flags: []cli.Flag{jsonFlag}, Action: withSession(userList)},
			{Name: "show", Usage: "show a user, with fobs and bypass codes", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: withSession(userShow)},
			{Name: "disable", Usage: "refuse every passcode of a user", ArgsUsage: "NAME", Flags: []cli.Flag{reasonFlag, jsonFlag}, Action: withSession(userDisable(true))},
			{Name: "enable", Usage: "undo disable", ArgsUsage: "NAME", Flags: []cli.Flag{reasonFlag, jsonFlag}, Action: withSession(userDisable(false))},
			{Name: "unlock", Usage: "clear a user's failed passcodes", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: withSession(userUnlock)},
			{
				Name: "invite", Usage: "print an enrolment link (30 days) for the user to add a first device in the portal", ArgsUsage: "NAME",
				Flags: []cli.Flag{portalFlag, jsonFlag}, Action: withSession(userInvite),
			},
		},
	}
}

func userAdd(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	if err := inventory.CheckUserName(a[0]); err != nil {
		return usageError{err}
	}
	u, err := s.desk.AddUser(c.Context, inventory.User{Name: a[0], FullName: c.String("full-name"), Email: c.String("email")})
	if err != nil {
		return err
	}
	return answer(c, u, func() { say(c, "added user %s", u.Name) })
}

func userList(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	users, err := s.desk.UsersWithFactors(c.Context, inventory.UserFilter{})
	if err != nil {
		return err
	}
	return printList(c, users, []string{"USER", "FULL NAME", "EMAIL", "STATUS", "FACTORS"}, func(u inventory.UserFactors) []string {
		return []string{u.Name, u.FullName, u.Email, s.userStatus(&u.User), factorList(u.Factors)}
	})
}

// factorList is "2 fobs, 1 phone app, 1 key, 1 bypass", or "none".
func factorList(f inventory.Factors) string {
	var out []string
	for _, c := range []struct {
		n         int
		one, many string
	}{{f.Fobs, "fob", "fobs"}, {f.Phones, "phone app", "phone apps"}, {f.Keys, "key", "keys"}, {f.Bypass, "bypass", "bypass"}} {
		if c.n > 0 {
			out = append(out, plural(c.n, c.one, c.many))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// userStatus says whether a user is disabled or locked now: a lock whose
// cool-down is over is none, though the row keeps it until the next
// decision clears it.
func (s *session) userStatus(u *inventory.User) string {
	switch {
	case u.Disabled:
		return "disabled"
	case s.ver.Policy().Locked(u.LockedAt, s.store.Now()):
		return fmt.Sprintf("locked (%d failures)", u.FailCount)
	}
	return "active"
}

func userShow(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	v, err := s.desk.UserDetail(c.Context, a[0])
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, v)
	}
	u := v.User
	say(c, "user:       %s", u.Name)
	if u.FullName != "" {
		say(c, "full name:  %s", u.FullName)
	}
	if u.Email != "" {
		say(c, "email:      %s", u.Email)
	}
	say(c, "status:     %s", s.userStatus(&u))
	if v.DisabledReason != "" {
		say(c, "reason:     %s", v.DisabledReason)
	}
	say(c, "added:      %s", when(u.CreatedAt))
	say(c, "fobs:       %d", len(v.Fobs))
	for _, f := range v.Fobs {
		if f.Reason != "" {
			say(c, "  %s  %s  %s (reason: %s)", f.Serial, f.Kind, fobStatus(f), f.Reason)
		} else {
			say(c, "  %s  %s  %s", f.Serial, f.Kind, fobStatus(f))
		}
	}
	say(c, "keys:       %d", len(v.Keys))
	for _, k := range v.Keys {
		where := "U2F under " + k.AppID
		if k.Kind == inventory.KeyCTAP2 {
			where = "CTAP2 for " + k.RPID
		}
		say(c, "  #%d  %q  %s, %s, attestation %s, counter %d, %s", k.ID, k.Name, or(k.Model, "unknown model"), where, k.Attestation, k.Counter, k.State)
	}
	say(c, "bypass codes live: %d", len(v.Bypass))
	for _, b := range v.Bypass {
		say(c, "  #%d  %s left, expires %s, issued by %s", b.ID, plural(b.UsesLeft, "use", "uses"), when(b.ExpiresAt), b.CreatedBy)
	}
	say(c, "last attempts: %d", len(v.Attempts))
	if len(v.Attempts) > 0 {
		t := newTable(c.App.Writer, authHeader...)
		for _, e := range v.Attempts {
			t.row(authRow(e)...)
		}
		t.flush()
	}
	return nil
}

func userDisable(disabled bool) func(c *cli.Context, s *session) error {
	return func(c *cli.Context, s *session) error {
		a, err := args(c, "NAME")
		if err != nil {
			return err
		}
		if err := s.desk.Because(c.String("reason")).SetUserDisabled(c.Context, a[0], disabled); err != nil {
			return err
		}
		return done(c, fmt.Sprintf("user %s %s", a[0], map[bool]string{true: "disabled", false: "enabled"}[disabled]), "user", a[0], "disabled", disabled)
	}
}

func userUnlock(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	if err := s.desk.UnlockUser(c.Context, a[0]); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("user %s unlocked", a[0]), "user", a[0])
}

func userInvite(c *cli.Context, s *session) error {
	return printLink(c, s, (*desk.Desk).Invite, "an enrolment link")
}
