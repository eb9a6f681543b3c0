package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/usb"
	"github.com/keydesk/keydesk/verify"
)

var (
	deviceFlag = &cli.StringFlag{Name: "device", Usage: "the key's hidraw `PATH` (default: the only security key plugged in)"}
	appIDFlag  = &cli.StringFlag{Name: "app-id", Value: "keydesk", EnvVars: []string{"KEYDESK_APP_ID"},
		Usage: "U2F application id keys are registered for"}
	touchFlag = &cli.DurationFlag{Name: "touch-timeout", Value: 30 * time.Second, Usage: "how long to wait for a touch"}
)

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "U2F/FIDO security keys: list, wink, register, test, remove",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list the security keys plugged in (USB and HID views)",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "no-probe", Usage: "do not ask each key for its capabilities"}, jsonFlag},
				Action: keyList,
			},
			{Name: "wink", Usage: "make a key blink, to tell which one it is", Flags: []cli.Flag{deviceFlag, jsonFlag}, Action: keyWink},
			{
				Name: "register", Usage: "register the key plugged in to a user (the user touches it)", ArgsUsage: "USER",
				Flags: []cli.Flag{
					deviceFlag, appIDFlag, touchFlag,
					&cli.StringFlag{Name: "name", Usage: "a `NICK` for the key (default: its model)"},
					&cli.StringFlag{Name: "attestation-roots", Usage: "`DIR` of vendor root certificates (PEM) to trust besides the built-in ones"},
					&cli.BoolFlag{Name: "require-trusted", Usage: "refuse keys whose attestation does not chain to a trusted root"},
					jsonFlag,
				},
				Action: withSession(keyRegister),
			},
			{
				Name: "test", Usage: "check the key plugged in is one of the user's, and works (the user touches it)", ArgsUsage: "USER",
				Flags:  []cli.Flag{deviceFlag, appIDFlag, touchFlag, jsonFlag},
				Action: withSession(keyTest),
			},
			{Name: "remove", Usage: "remove a user's key (kept on record)", ArgsUsage: "USER KEY", Flags: []cli.Flag{jsonFlag}, Action: withSession(keyRemove)},
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

func keyPolicy(c *cli.Context) (verify.KeyPolicy, error) {
	ts, err := verify.BuiltinTrustStore()
	if err != nil {
		return verify.KeyPolicy{}, err
	}
	if dir := c.String("attestation-roots"); dir != "" {
		if err := ts.LoadTrustDir(dir); err != nil {
			return verify.KeyPolicy{}, err
		}
	}
	return verify.KeyPolicy{AppID: c.String("app-id"), Trust: ts, RequireTrusted: c.Bool("require-trusted")}, nil
}

// keyAtDesk is what registering or testing a key needs: the rules, and
// the key plugged in, open. The caller closes the client.
func keyAtDesk(c *cli.Context) (verify.KeyPolicy, *hid.Client, string, error) {
	p, err := keyPolicy(c)
	if err != nil {
		return p, nil, "", err
	}
	cl, path, err := openKey(c)
	return p, cl, path, err
}

type keyView struct {
	User        string `json:"user"`
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Model       string `json:"model,omitempty"`
	Attestation string `json:"attestation"`
	Issuer      string `json:"issuer,omitempty"`
	Warning     string `json:"warning,omitempty"`
	Counter     uint32 `json:"counter"`
	Device      string `json:"device"`
	Firmware    string `json:"firmware,omitempty"`
	AAGUID      string `json:"aaguid,omitempty"`
	Versions    string `json:"versions,omitempty"`
}

func keyRegister(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	p, cl, path, err := keyAtDesk(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	v := keyView{Device: path}
	describeKey(c, cl, &v)
	reg, err := s.desk.RegisterKey(c.Context, cl, a[0], c.String("name"), p)
	if err != nil {
		return err
	}
	v.User, v.ID, v.Name, v.Model = reg.Key.User, reg.Key.ID, reg.Key.Name, reg.Attestation.Model
	v.Attestation, v.Issuer, v.Warning, v.Counter = reg.Attestation.Result, reg.Attestation.Issuer, reg.Attestation.Warning, reg.Key.Counter
	if v.Warning != "" {
		note(c, "warning: %s", v.Warning)
	}
	return answer(c, v, func() {
		say(c, "registered key #%d %q to %s", v.ID, v.Name, v.User)
		say(c, "model:       %s", or(v.Model, "unknown"))
		say(c, "attestation: %s (issuer %s)", v.Attestation, v.Issuer)
	})
}

// describeKey reads what a CTAP2 key says of itself; U2F-only keys have
// nothing more to say.
func describeKey(c *cli.Context, cl *hid.Client, v *keyView) {
	info := cl.Info()
	v.Firmware = info.Version()
	if !info.CTAP2() {
		return
	}
	ctx, cancel := context.WithTimeout(c.Context, 3*time.Second)
	defer cancel()
	gi, err := cl.GetInfo(ctx)
	if err != nil {
		note(c, "the key announces CTAP2 but getInfo failed: %v", err)
		return
	}
	v.AAGUID, v.Versions = gi.AAGUID.String(), strings.Join(gi.Versions, ",")
	say(c, "key:         CTAP2 %s, AAGUID %s, firmware %s", v.Versions, v.AAGUID, v.Firmware)
}

func keyTest(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	p, cl, _, err := keyAtDesk(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	d, err := s.desk.TestKey(c.Context, cl, a[0], p, s.origin())
	if err != nil {
		return fmt.Errorf("no decision: %w", err)
	}
	if d.Allow && !wantJSON(c) {
		say(c, "key #%d %q of %s works: %s, counter %d", d.KeyID, d.KeyName, a[0], or(d.KeyModel, "unknown model"), d.Counter)
		return nil
	}
	return printDecision(c, d)
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
