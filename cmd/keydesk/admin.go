package main

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/server"
	"github.com/keydesk/keydesk/verify"
)

// The CLI acts on administrators and applications as the local operator,
// who holds the master key and so is implicitly an owner.

func adminCommand() *cli.Command {
	return &cli.Command{
		Name:  "admin",
		Usage: "administrators of the server's admin API, and their roles",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "add an administrator and print its API token (shown once)", ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "role", Usage: "owner, admin, app-manager, user-manager, help-desk, billing or read-only (required)"},
					jsonFlag,
				},
				Action: withSession(adminAdd),
			},
			{Name: "list", Usage: "list administrators", Flags: []cli.Flag{jsonFlag}, Action: withSession(adminList)},
			{Name: "disable", Usage: "refuse an administrator's token from now on", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: withSession(adminDisable)},
		},
	}
}

func adminAdd(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	if err := inventory.CheckName("admin", a[0]); err != nil {
		return usageError{err}
	}
	if !c.IsSet("role") {
		return usagef("admin add needs --role (owner, admin, app-manager, user-manager, help-desk, billing or read-only)")
	}
	role, err := verify.ParseRole(c.String("role"))
	if err != nil {
		return usageError{err}
	}
	admin, token, err := s.desk.AddAdmin(c.Context, a[0], role)
	if err != nil {
		return err
	}
	// The token opens the admin API: shown this once, never stored.
	return answer(c, map[string]any{"admin": admin, "token": token}, func() {
		say(c, "%s", token)
		note(c, "admin %s added with the %s role; the token above is not shown again", admin.Name, role.Label())
	})
}

func adminList(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	admins, err := s.desk.Admins(c.Context)
	if err != nil {
		return err
	}
	return printList(c, admins, []string{"ADMIN", "ROLE", "STATUS", "ADDED BY", "ADDED"}, func(a inventory.Admin) []string {
		return []string{a.Name, verify.Role(a.Role).Label(), map[bool]string{true: "disabled", false: "active"}[a.Disabled], a.CreatedBy, when(a.CreatedAt)}
	})
}

func adminDisable(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	if err := s.desk.DisableAdmin(c.Context, a[0]); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("admin %s disabled", a[0]), "admin", a[0])
}

func appCommand() *cli.Command {
	return &cli.Command{
		Name:  "app",
		Usage: "applications that ask the server about passcodes (API and RADIUS clients)",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "add an application and print its key (shown once)", ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "radius-secret-file", Usage: "`FILE` holding the RADIUS shared secret, which makes the application a RADIUS client"},
					&cli.StringSliceFlag{Name: "radius-source", Usage: "address or `CIDR` its RADIUS requests may come from (repeat for more)"},
					&cli.StringFlag{Name: "radius-mode", Value: "otp", Usage: "what its Access-Requests carry: otp (the passcode), password+otp (\"password,passcode\", the password checked with the directory), or challenge (the password, then the passcode after an Access-Challenge)"},
					&cli.BoolFlag{Name: "detailed-reasons", Usage: "let it hear why a login was denied in the help desk's words (others hear only that it was)"},
					jsonFlag,
				},
				Action: withSession(appAdd),
			},
			{Name: "list", Usage: "list applications", Flags: []cli.Flag{jsonFlag}, Action: withSession(appList)},
			{Name: "remove", Usage: "remove an application: its key and RADIUS secret stop working", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: withSession(appRemove)},
		},
	}
}

// maxSecretFile bounds what --radius-secret-file reads.
const maxSecretFile = 1024

func appAdd(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	mode, err := inventory.ParseRADIUSMode(c.String("radius-mode"))
	if err != nil {
		return usageError{err}
	}
	n := inventory.NewApplication{Name: a[0], RADIUSMode: mode, DetailedReasons: c.Bool("detailed-reasons")}
	if !c.IsSet("radius-mode") {
		n.RADIUSMode = ""
	}
	if f := c.String("radius-secret-file"); f != "" {
		if n.RADIUSSecret, err = readSecretFile(f); err != nil {
			return err
		}
	}
	for _, src := range c.StringSlice("radius-source") {
		for _, one := range strings.Split(src, ",") {
			p, err := server.ParseSource(strings.TrimSpace(one))
			if err != nil {
				return usagef("--radius-source: %v", err)
			}
			n.RADIUSSources = append(n.RADIUSSources, p)
		}
	}
	if err := n.Check(); err != nil {
		return usageError{err}
	}
	app, key, err := s.desk.AddApplication(c.Context, n)
	if err != nil {
		return err
	}
	return answer(c, map[string]any{"application": app, "key": key}, func() {
		say(c, "%s", key)
		what := "an API client"
		if app.RADIUS {
			what = "an API and RADIUS client from " + sources(app.RADIUSSources)
		}
		note(c, "application %s added as %s; the key above is not shown again", app.Name, what)
	})
}

// readSecretFile reads a RADIUS secret: the file's bytes without the line
// end an editor adds.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxSecretFile {
		return nil, fmt.Errorf("%s: longer than %d bytes, so not a RADIUS secret", path, maxSecretFile)
	}
	raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
	if err := inventory.CheckRADIUSSecret(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return raw, nil
}

func sources(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func appList(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	apps, err := s.desk.Applications(c.Context)
	if err != nil {
		return err
	}
	return printList(c, apps, []string{"APPLICATION", "RADIUS FROM", "STATUS", "ADDED BY", "ADDED"}, func(a inventory.Application) []string {
		return []string{a.Name, sources(a.RADIUSSources), map[bool]string{true: "disabled", false: "active"}[a.Disabled], a.CreatedBy, when(a.CreatedAt)}
	})
}

func appRemove(c *cli.Context, s *session) error {
	a, err := args(c, "NAME")
	if err != nil {
		return err
	}
	if err := s.desk.RemoveApplication(c.Context, a[0]); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("application %s removed; its key and RADIUS secret no longer work", a[0]), "application", a[0])
}
