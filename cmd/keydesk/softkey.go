package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/hid/softkey"
)

func softkeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "softkey",
		Usage: "serve a virtual U2F + CTAP2 key on a HID gadget device, for labs and tests",
		Description: "The key answers CTAPHID, U2F and CTAP2 on the device side of a Linux USB HID gadget\n" +
			"(/dev/hidgN), so that `keydesk key ...` on the host side talks to it as to a real key.\n" +
			"It runs until interrupted.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "hidg", Usage: "the gadget's device `PATH`, e.g. /dev/hidg0 (required)"},
			&cli.StringFlag{Name: "state", Usage: "state `FILE` (device secret, attestation, counter; mode 0600); in memory when empty"},
			&cli.DurationFlag{Name: "touch-delay", Value: time.Second, Usage: "how long after a request the user \"touches\" the key"},
			&cli.StringFlag{Name: "protocols", Value: "u2f+ctap2", Usage: "what the key speaks: u2f+ctap2, u2f (a U2F-only key) or ctap2 (a FIDO2-only key)"},
			&cli.DurationFlag{Name: "reset-window", Value: 10 * time.Second, Usage: "how long after it starts the key accepts a reset, as real keys do after they are plugged in"},
			&cli.StringFlag{Name: "misbehave", Usage: "break the protocol on purpose: " + strings.Join(softkey.Misbehaviors(), ", ")},
		},
		Action: softkeyAction,
	}
}

func softkeyAction(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	if c.String("hidg") == "" {
		return usagef("softkey needs --hidg PATH")
	}
	mis, err := softkey.ParseMisbehavior(c.String("misbehave"))
	if err != nil {
		return usageError{err}
	}
	protocols, ok := map[string]softkey.Protocols{"u2f+ctap2": softkey.U2FAndCTAP2, "u2f": softkey.U2FOnly, "ctap2": softkey.CTAP2Only}[c.String("protocols")]
	if !ok {
		return usagef("--protocols is u2f+ctap2, u2f or ctap2, not %q", c.String("protocols"))
	}
	if c.Duration("reset-window") <= 0 {
		return usagef("--reset-window must be positive")
	}
	key, err := softkey.New(softkey.Config{
		StatePath:   c.String("state"),
		TouchDelay:  c.Duration("touch-delay"),
		Misbehave:   mis,
		Protocols:   protocols,
		ResetWindow: c.Duration("reset-window"),
		Log:         slog.New(slog.NewTextHandler(c.App.ErrWriter, nil)),
	})
	if err != nil {
		return err
	}
	dev, err := hid.OpenGadget(c.String("hidg"))
	if err != nil {
		return err
	}
	note(c, "soft key serving on %s (%s, counter %d)%s", c.String("hidg"), c.String("protocols"), key.Counter(), map[bool]string{true: ", misbehaving: " + string(mis)}[mis != ""])
	err = key.Serve(c.Context, dev)
	if errors.Is(err, context.Canceled) || c.Context.Err() != nil {
		return nil
	}
	return err
}
