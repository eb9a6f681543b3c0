package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/usb"
)

var (
	deviceFlag = &cli.StringFlag{Name: "device", Usage: "the key's hidraw `PATH`, or \"touch\" for the one the user touches (default: the only security key plugged in)"}
	rpIDFlag   = &cli.StringFlag{Name: "rp-id", EnvVars: []string{"KEYDESK_RP_ID"},
		Usage: "the relying party keys are registered for: the `DOMAIN` of the institution's logins, e.g. example.edu"}
	originFlag = &cli.StringFlag{Name: "origin", EnvVars: []string{"KEYDESK_ORIGIN"},
		Usage: "the `ORIGIN` the client data names (default https://<rp-id>)"}
	appIDFlag = &cli.StringFlag{Name: "app-id", EnvVars: []string{"KEYDESK_APP_ID"},
		Usage: "the U2F `APPID` U2F-only keys are registered under (default https://<rp-id>); alone, without --rp-id, every key is registered over U2F under it, as keydesk did before CTAP2"}
	touchFlag   = &cli.DurationFlag{Name: "touch-timeout", Value: 30 * time.Second, Usage: "how long to wait for a touch"}
	pinFileFlag = &cli.StringFlag{Name: "pin-file", Usage: "`FILE` holding the key's PIN (default: asked on a terminal; never on the command line)"}
	requirePIN  = &cli.BoolFlag{Name: "require-pin", Usage: "the key must verify its user with its PIN (refuses keys without one, and U2F keys)"}
)

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "U2F/FIDO2 security keys: list, info, wink, register, test, remove; PIN, reset, resident credentials",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list the security keys plugged in (USB and HID views)",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "no-probe", Usage: "do not ask each key for its capabilities"}, jsonFlag},
				Action: keyList,
			},
			{
				Name: "info", Usage: "what the key plugged in says of itself: protocols, model, options, PIN state",
				Flags: []cli.Flag{deviceFlag, jsonFlag}, Action: keyInfo,
			},
			{Name: "wink", Usage: "make a key blink, to tell which one it is", Flags: []cli.Flag{deviceFlag, jsonFlag}, Action: keyWink},
			{
				Name: "register", Usage: "register the key plugged in to a user (the user touches it)", ArgsUsage: "USER",
				Description: "A key that speaks CTAP2 becomes a WebAuthn credential of the relying party --rp-id, which\n" +
					"browsers at that site can log in with; a U2F-only key is registered under the AppID\n" +
					"https://<rp-id>, which browsers reach through WebAuthn's appid extension. A key with a PIN\n" +
					"needs it: --pin-file, or a prompt on a terminal.",
				Flags: []cli.Flag{
					deviceFlag, rpIDFlag, originFlag, appIDFlag, touchFlag, pinFileFlag, requirePIN,
					&cli.StringFlag{Name: "name", Usage: "a `NICK` for the key (default: its model)"},
					&cli.BoolFlag{Name: "resident", Usage: "make a resident (discoverable) credential: the key keeps the user's account, for logins without a user name"},
					&cli.StringFlag{Name: "attestation-roots", Usage: "`DIR` of vendor root certificates (PEM) to trust besides the built-in ones"},
					&cli.BoolFlag{Name: "require-trusted", Usage: "refuse keys whose attestation does not chain to a trusted root"},
					&cli.StringSliceFlag{Name: "aaguid-allow", Usage: "accept only key models of this `AAGUID` (repeat, or separate with commas)"},
					&cli.StringSliceFlag{Name: "aaguid-deny", Usage: "refuse key models of this `AAGUID` (repeat, or separate with commas)"},
					jsonFlag,
				},
				Action: withSession(keyRegister),
			},
			{
				Name: "test", Usage: "check the key plugged in is one of the user's, and works (the user touches it)", ArgsUsage: "USER",
				Flags:  []cli.Flag{deviceFlag, rpIDFlag, originFlag, appIDFlag, touchFlag, pinFileFlag, requirePIN, jsonFlag},
				Action: withSession(keyTest),
			},
			{Name: "remove", Usage: "remove a user's key (kept on record)", ArgsUsage: "USER KEY", Flags: []cli.Flag{jsonFlag}, Action: withSession(keyRemove)},
			keyPINCommand(),
			{
				Name: "reset", Usage: "erase the key plugged in: every credential on it and its PIN",
				Description: "Real keys accept a reset only within seconds of being plugged in, and with a touch: unplug\n" +
					"the key, plug it in again, and run this at once. The registrations the key held are marked\n" +
					"removed in the inventory.",
				Flags:  []cli.Flag{deviceFlag, touchFlag, &cli.BoolFlag{Name: "yes", Usage: "do not ask: the clerk confirms the reset"}, jsonFlag},
				Action: withSession(keyReset),
			},
			keyCredsCommand(),
			keyConfigCommand(),
			{Name: "select", Usage: "find which of several keys plugged in is the one the user touches", Flags: []cli.Flag{touchFlag, jsonFlag}, Action: keySelect},
		},
	}
}

func keyList(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	rows, err := usb.List(c.Context, usb.ListOptions{NoProbe: c.Bool("no-probe")})
	if err != nil && len(rows) == 0 {
		note(c, "%v", err)
	}
	if wantJSON(c) {
		if rows == nil {
			rows = []usb.KeyRow{}
		}
		return printJSON(c, rows)
	}
	if len(rows) == 0 {
		note(c, "no security key found")
		return nil
	}
	t := newTable(c.App.Writer, "DEVICE", "ID", "MANUFACTURER", "PRODUCT", "SERIAL", "MODEL", "PROTOCOLS", "NOTES")
	for _, r := range rows {
		var proto []string
		if r.U2F {
			proto = append(proto, "U2F")
		}
		if r.CTAP2 {
			proto = append(proto, "CTAP2")
		}
		if r.Wink {
			proto = append(proto, "wink")
		}
		t.row(r.Path, r.ID, r.Manufacturer, r.Product, r.Serial, r.Model, strings.Join(proto, ","), strings.Join(r.Problems, "; "))
	}
	t.flush()
	return nil
}

// openKey opens the key to talk to: the one --device names, or the only
// one plugged in, or the one the clerk picks on a terminal.
func openKey(c *cli.Context) (*hid.Client, string, error) {
	path := c.String("device")
	if path == touchDevice {
		var err error
		if path, err = selectByTouch(c); err != nil {
			return nil, "", err
		}
	}
	if path == "" {
		var err error
		if path, err = pickKey(c); err != nil {
			return nil, "", err
		}
	}
	dev, err := hid.OpenPath(path)
	if err != nil {
		return nil, "", err
	}
	touched := false
	cl, err := hid.Open(c.Context, dev, hid.Options{
		TouchTimeout: c.Duration("touch-timeout"),
		OnTouch: func() {
			if !touched {
				touched = true
				fmt.Fprintln(c.App.ErrWriter, "Touch your key now")
			}
		},
	})
	if err != nil {
		dev.Close()
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return cl, path, nil
}

func pickKey(c *cli.Context) (string, error) {
	nodes, err := hid.Enumerate()
	if len(nodes) == 0 {
		if err != nil {
			return "", fmt.Errorf("no security key found: %w", err)
		}
		return "", errors.New("no security key found: plug one in (keydesk key list shows what is seen)")
	}
	if len(nodes) == 1 {
		return nodes[0].Path, nil
	}
	var names []string
	for i, n := range nodes {
		names = append(names, fmt.Sprintf("%d) %s %s", i+1, n.Path, n.Name))
	}
	if _, ok := terminal(c); !ok {
		return "", fmt.Errorf("%d security keys are plugged in; choose one with --device:\n  %s", len(nodes), strings.Join(names, "\n  "))
	}
	fmt.Fprintf(c.App.ErrWriter, "%d security keys are plugged in:\n  %s\n", len(nodes), strings.Join(names, "\n  "))
	line, _ := promptLine(c, "Which one? ")
	i, err := strconv.Atoi(line)
	if err != nil || i < 1 || i > len(nodes) {
		return "", usagef("no key numbered %q", strings.TrimSpace(line))
	}
	return nodes[i-1].Path, nil
}

func keyWink(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	cl, path, err := openKey(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Wink(c.Context); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return done(c, fmt.Sprintf("key at %s winked", path), "device", path)
}

func keyRemove(c *cli.Context, s *session) error {
	a, err := args(c, "USER", "KEY")
	if err != nil {
		return err
	}
	if err := s.desk.RemoveKey(c.Context, a[0], a[1]); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("key %s of %s removed", a[1], a[0]), "user", a[0], "key", a[1])
}
