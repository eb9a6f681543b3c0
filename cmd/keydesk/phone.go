package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/qr"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/server"
	"github.com/keydesk/keydesk/verify"
)

var (
	issuerFlag = &cli.StringFlag{Name: "issuer", Value: "keydesk", EnvVars: []string{"KEYDESK_ISSUER"},
		Usage: "the `NAME` authenticator apps show beside the codes (the institution's)"}
	portalFlag = &cli.StringFlag{Name: "portal-url", EnvVars: []string{"KEYDESK_PORTAL_URL"},
		Usage: "where users reach the self-service portal, the server's portal_url: https://keydesk.example.edu/portal/"}
)

func phoneCommand() *cli.Command {
	return &cli.Command{
		Name:  "phone",
		Usage: "authenticator apps on users' phones: add, activate, list, remove, activation links",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "show a new phone app's QR code and wait for its first code", ArgsUsage: "USER",
				Description: "The QR code is drawn on the terminal (standard error), and the key printed for typing in;\n" +
					"the seed is shown this once. The first code the app shows pairs it: typed at the prompt,\n" +
					"or one line on standard input. Without one the phone app waits: keydesk phone activate.",
				Flags:  []cli.Flag{issuerFlag, &cli.BoolFlag{Name: "no-wait", Usage: "show the seed and leave the phone app waiting for its first code"}, jsonFlag},
				Action: withSession(phoneAdd),
			},
			{Name: "activate", Usage: "pair a waiting phone app with the code it shows", ArgsUsage: "USER ID", Flags: []cli.Flag{jsonFlag}, Action: withSession(phoneActivate)},
			{Name: "list", Usage: "list a user's phone apps", ArgsUsage: "USER", Flags: []cli.Flag{jsonFlag}, Action: withSession(phoneList)},
			{Name: "remove", Usage: "take a phone app out of use (kept on record)", ArgsUsage: "USER ID", Flags: []cli.Flag{jsonFlag}, Action: withSession(phoneRemove)},
			{
				Name: "link", Usage: "print an activation link (24 hours) to pair a phone app in the portal", ArgsUsage: "USER",
				Flags: []cli.Flag{portalFlag, jsonFlag}, Action: withSession(phoneLink),
			},
		},
	}
}

// phoneAdded is the one JSON document of phone add: the seed, shown
// once, and whether the phone app was paired.
type phoneAdded struct {
	desk.PhoneAppSeed
	Paired bool `json:"paired"`
}

func phoneAdd(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	seed, err := s.desk.AddPhoneApp(c.Context, a[0], c.String("issuer"))
	if err != nil {
		return err
	}
	if !wantJSON(c) {
		if w, ok := stderrTerminal(c); ok {
			if err := drawQR(w, seed.URI); err != nil {
				note(c, "%v", err)
			}
		}
		say(c, "phone app #%d for %s: scan the QR code with the authenticator app, or type in:", seed.PhoneApp.ID, a[0])
		say(c, "  account: %s (%s)", seed.Issuer, seed.Account)
		say(c, "  key:     %s", seed.GroupedSecret())
		say(c, "  kind:    time-based, %d digits, every %d seconds, %s", seed.Digits, seed.Period, seed.Algorithm)
		note(c, "the key is not shown again")
	}
	out := phoneAdded{PhoneAppSeed: seed}
	if !c.Bool("no-wait") {
		p, paired, err := pairPhone(c, s, a[0], seed.PhoneApp.ID)
		if err != nil {
			return err
		}
		if paired {
			out.PhoneApp, out.Paired = p, true
		}
	}
	if wantJSON(c) {
		return printJSON(c, out)
	}
	if !out.Paired {
		note(c, "phone app #%d waits for its first code until %s: keydesk phone activate %s %d", seed.PhoneApp.ID, when(seed.PhoneApp.ExpiresAt), a[0], seed.PhoneApp.ID)
	}
	return nil
}

// pairTries is how many codes a clerk may type at the prompt before the
// phone app is left waiting.
const pairTries = 5

// pairPhone asks for the phone app's first code and pairs it: at a
// terminal until a right code (or an empty line), from a pipe one line.
func pairPhone(c *cli.Context, s *session, user string, id int64) (inventory.PhoneApp, bool, error) {
	_, interactive := terminal(c)
	for try := 1; ; try++ {
		code, err := promptLine(c, "Code the app shows now (empty to leave it waiting): ")
		if err != nil || code == "" {
			return inventory.PhoneApp{}, false, err
		}
		p, err := s.desk.ActivatePhoneApp(c.Context, user, id, code)
		if err == nil {
			if !wantJSON(c) {
				say(c, "phone app #%d of %s is paired: it answers as fob %s", id, user, p.FobSerial)
			}
			return p, true, nil
		}
		if !errors.Is(err, verify.ErrPairingCode) || !interactive || try == pairTries {
			return inventory.PhoneApp{}, false, err
		}
		note(c, "%v", err)
	}
}

func phoneID(c *cli.Context) (string, int64, error) {
	a, err := args(c, "USER", "ID")
	if err != nil {
		return "", 0, err
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(a[1], "#"), 10, 64)
	if err != nil || id <= 0 {
		return "", 0, usagef("phone app ID %q: want the number phone list shows", a[1])
	}
	return a[0], id, nil
}

func phoneActivate(c *cli.Context, s *session) error {
	user, id, err := phoneID(c)
	if err != nil {
		return err
	}
	p, paired, err := pairPhone(c, s, user, id)
	switch {
	case err != nil:
		return err
	case !paired:
		return usagef("no code given: type the code the app shows, or give it on standard input")
	}
	if wantJSON(c) {
		return printJSON(c, p)
	}
	return nil
}

func phoneList(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	phones, err := s.desk.PhoneApps(c.Context, a[0])
	if err != nil {
		return err
	}
	return printList(c, phones, []string{"ID", "STATE", "FOB", "ISSUER", "ADDED", "BY", "LAST USED"}, func(p inventory.PhoneApp) []string {
		state := p.State
		if p.State == inventory.PhonePending {
			state = "pending until " + when(p.ExpiresAt)
		}
		return []string{"#" + itoa(int(p.ID)), state, p.FobSerial, p.Issuer, when(p.CreatedAt), p.CreatedBy, when(p.LastUsedAt)}
	})
}

func phoneRemove(c *cli.Context, s *session) error {
	user, id, err := phoneID(c)
	if err != nil {
		return err
	}
	if err := s.desk.RemovePhoneApp(c.Context, user, id); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("phone app #%d of %s removed", id, user), "user", user, "phone_app", id)
}

func phoneLink(c *cli.Context, s *session) error {
	return printLink(c, s, (*desk.Desk).IssueActivationLink, "an activation link")
}

// printLink makes a portal link with issue and prints it; the link is
// the user's way in, shown this once.
func printLink(c *cli.Context, s *session, issue func(*desk.Desk, context.Context, string) (desk.IssuedLink, error), what string) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	portal := c.String("portal-url")
	if portal == "" {
		return usagef("%s needs the portal's address: --portal-url or KEYDESK_PORTAL_URL (the server's portal_url)", commandPath(c))
	}
	if err := server.CheckPortalURL(portal); err != nil {
		return usagef("--portal-url: %v", err)
	}
	l, err := issue(s.desk, c.Context, a[0])
	if err != nil {
		return err
	}
	u, err := server.LinkURL(portal, l)
	if err != nil {
		return err
	}
	return answer(c, map[string]any{"user": l.Link.User, "kind": l.Link.Kind, "url": u, "expires_at": l.Link.ExpiresAt}, func() {
		say(c, "%s", u)
		note(c, "%s for %s, good until %s; send it to the user: it is not shown again", what, l.Link.User, when(l.Link.ExpiresAt))
	})
}

// stderrTerminal is standard error when it is a terminal: the QR code is
// drawn there only, never into a file or a pipe.
func stderrTerminal(c *cli.Context) (io.Writer, bool) {
	f, ok := c.App.ErrWriter.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

// drawQR draws text as a QR code with Unicode half blocks, two modules a
// character, black on white whatever the terminal's colours, inside the
// quiet zone a scanner needs.
func drawQR(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("drawing the QR code: %w", err)
	}
	const quiet = 2
	n := code.Bounds().Dx()
	dark := func(x, y int) bool {
		if x < 0 || y < 0 || x >= n || y >= n {
			return false
		}
		r, _, _, _ := code.At(x, y).RGBA()
		return r == 0
	}
	var b strings.Builder
	for y := -quiet; y < n+quiet; y += 2 {
		b.WriteString("\x1b[30;47m") // black on white
		for x := -quiet; x < n+quiet; x++ {
			switch top, bottom := dark(x, y), dark(x, y+1); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}
