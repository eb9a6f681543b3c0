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
		Usage: "serve a virtual U2F key on a HID gadget device, for labs and tests",
		Description: "The key answers CTAPHID and U2F on the device side of a Linux USB HID gadget\n" +
			"(/dev/hidgN), so that `keydesk key ...` on the host side talks to it as to a real key.\n" +
			"It runs until interrupted.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "hidg", Usage: "the gadget's device `PATH`, e.g. /dev/hidg0 (required)"},
			&cli.StringFlag{Name: "state", Usage: "state `FILE` (device secret, attestation, counter; mode 0600); in memory when empty"},
			&cli.DurationFlag{Name: "touch-delay", Value: time.Second, Usage: "how long after a request the user \"touches\" the key"},
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
	key, err := softkey.New(softkey.Config{
		StatePath:  c.String("state"),
		TouchDelay: c.Duration("touch-delay"),
		Misbehave:  mis,
		Log:        slog.New(slog.NewTextHandler(c.App.ErrWriter, nil)),
	})
	if err != nil {
		return err
	}
	dev, err := hid.OpenGadget(c.String("hidg"))
	if err != nil {
		return err
	}
	note(c, "soft key serving on %s (counter %d)%s", c.String("hidg"), key.Counter(), map[bool]string{true: ", misbehaving: " + string(mis)}[mis != ""])
	err = key.Serve(c.Context, dev)
	if errors.Is(err, context.Canceled) || c.Context.Err() != nil {
		return nil
	}
	return err
}
