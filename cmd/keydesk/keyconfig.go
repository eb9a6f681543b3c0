package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

// touchDevice is the --device value that picks, among the keys plugged
// in, the one the user touches (authenticatorSelection, CTAP 2.1 §6.9).
const touchDevice = "touch"

// selectByTouch asks every CTAP2 key plugged in to wait for a touch and
// returns the path of the one touched first; the others are told to stop
// waiting. U2F-only keys cannot take part: name them with --device.
func selectByTouch(c *cli.Context) (string, error) {
	nodes, err := hid.Enumerate()
	if len(nodes) == 0 {
		if err != nil {
			return "", fmt.Errorf("no security key found: %w", err)
		}
		return "", errors.New("no security key found: plug one in (keydesk key list shows what is seen)")
	}
	wait := c.Duration("touch-timeout")
	if wait <= 0 {
		wait = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(c.Context, wait)
	defer cancel()
	type result struct {
		path string
		err  error
	}
	results := make(chan result, len(nodes))
	waiting := 0
	for _, n := range nodes {
		dev, err := hid.OpenPath(n.Path)
		if err != nil {
			continue
		}
		cl, err := hid.Open(ctx, dev, hid.Options{TouchTimeout: wait})
		if err != nil {
			dev.Close()
			continue
		}
		if !cl.Info().CTAP2() {
			cl.Close()
			continue
		}
		waiting++
		go func() {
			defer cl.Close()
			results <- result{n.Path, cl.Selection(ctx)}
		}()
	}
	if waiting == 0 {
		return "", errors.New("no key plugged in speaks CTAP2, so none can be picked by touch: choose one with --device")
	}
	fmt.Fprintf(c.App.ErrWriter, "Touch the key you mean (%d waiting)\n", waiting)
	var last error
	for range waiting {
		r := <-results
		if r.err == nil {
			cancel()
			return r.path, nil
		}
		last = r.err
	}
	if errors.Is(last, context.DeadlineExceeded) {
		return "", fmt.Errorf("no key was touched within %s", wait)
	}
	return "", fmt.Errorf("no key was picked: %w", last)
}

func keySelect(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	path, err := selectByTouch(c)
	if err != nil {
		return err
	}
	return done(c, fmt.Sprintf("the key touched is at %s (give it to other commands with --device %s)", path, path), "device", path)
}

func keyConfigCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "settings of the key plugged in (authenticatorConfig): always-uv, min-pin-length",
		Subcommands: []*cli.Command{
			{
				Name: "always-uv", Usage: "turn on or off the key's rule that every use needs its PIN (it also stops the key speaking U2F)",
				Flags:  []cli.Flag{deviceFlag, touchFlag, pinFileFlag, jsonFlag},
				Action: keyToggleAlwaysUV,
			},
			{
				Name: "min-pin-length", Usage: "raise the shortest PIN the key accepts (it can only grow; a reset lowers it)", ArgsUsage: "N",
				Flags: []cli.Flag{deviceFlag, touchFlag, pinFileFlag,
					&cli.BoolFlag{Name: "force-change", Usage: "make the user choose a new PIN before the key is used again"}, jsonFlag},
				Action: keySetMinPINLength,
			},
		},
	}
}

// configToken is the PIN token authenticatorConfig needs, when the key
// has a PIN; a key without one takes its settings without.
func configToken(c *cli.Context, cl *hid.Client) (*u2f.PINToken, error) {
	gi, err := cl.GetInfo(c.Context)
	if err != nil {
		return nil, err
	}
	if !gi.Options["authnrCfg"] {
		return nil, errors.New("this key has no settings keydesk can change (it does not offer authenticatorConfig)")
	}
	if !gi.Options["clientPin"] {
		return nil, nil
	}
	pin, err := currentPIN(c, "PIN of the key: ")
	if err != nil {
		return nil, err
	}
	tok, err := cl.PINTokenWithPermissions(c.Context, pin, u2f.PermAuthenticatorConfig, "")
	if err != nil {
		return nil, explainKey(c, cl, err)
	}
	return tok, nil
}

func keyToggleAlwaysUV(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	cl, path, err := openCTAP2(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	tok, err := configToken(c, cl)
	if err != nil {
		return err
	}
	if err := cl.ToggleAlwaysUV(c.Context, tok); err != nil {
		return explainKey(c, cl, err)
	}
	gi, err := cl.GetInfo(c.Context)
	if err != nil {
		return err
	}
	on := gi.Options["alwaysUv"]
	state := map[bool]string{true: "on: every use needs the PIN", false: "off"}[on]
	return done(c, fmt.Sprintf("always-uv of the key at %s is %s", path, state), "device", path, "always_uv", on)
}

func keySetMinPINLength(c *cli.Context) error {
	a, err := args(c, "N")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(a[0])
	if err != nil || n < u2f.MinPINLength || n > u2f.MaxPINBytes {
		return usagef("N must be a number from %d to %d, not %q", u2f.MinPINLength, u2f.MaxPINBytes, a[0])
	}
	cl, path, err := openCTAP2(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	tok, err := configToken(c, cl)
	if err != nil {
		return err
	}
	if err := cl.SetMinPINLength(c.Context, tok, n, nil, c.Bool("force-change")); err != nil {
		return explainKey(c, cl, err)
	}
	return done(c, fmt.Sprintf("the key at %s accepts PINs of %d characters or more now", path, n), "device", path, "min_pin_length", n)
}
