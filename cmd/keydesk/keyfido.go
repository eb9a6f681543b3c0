package main

// What the desk does to a FIDO2 key itself: read what it says of itself,
// set or change its PIN, reset it, list and delete its resident
// credentials (CTAP 2.1 §6.4, §6.5, §6.6, §6.8).

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// infoView is what key info shows.
type infoView struct {
	Device     string          `json:"device"`
	Protocols  []string        `json:"protocols"`
	Firmware   string          `json:"firmware"`
	Versions   []string        `json:"versions,omitempty"`
	AAGUID     string          `json:"aaguid,omitempty"`
	Model      string          `json:"model,omitempty"`
	Options    map[string]bool `json:"options,omitempty"`
	Extensions []string        `json:"extensions,omitempty"`
	Algorithms []string        `json:"algorithms,omitempty"`
	// PIN: "set", "not set", or "unsupported".
	PIN          string  `json:"pin"`
	PINRetries   *int    `json:"pin_retries,omitempty"`
	PowerCycle   bool    `json:"power_cycle_needed,omitempty"`
	PINState     string  `json:"pin_state,omitempty"` // the state in words, when it stops the key
	MinPINLength int     `json:"min_pin_length,omitempty"`
	ResidentRoom *uint64 `json:"resident_credentials_remaining,omitempty"`
}

func keyInfo(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	cl, path, err := openKey(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	hi := cl.Info()
	v := infoView{Device: path, Firmware: hi.Version(), PIN: "unsupported"}
	if hi.U2F() {
		v.Protocols = append(v.Protocols, "U2F")
	}
	if hi.CTAP2() {
		v.Protocols = append(v.Protocols, "CTAP2")
		gi, err := cl.GetInfo(c.Context)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		describeInfo(c, cl, gi, &v)
	}
	return answer(c, v, func() {
		say(c, "device:      %s", v.Device)
		say(c, "protocols:   %s%s", strings.Join(v.Protocols, ", "), map[bool]string{true: " (" + strings.Join(v.Versions, ", ") + ")"}[len(v.Versions) > 0])
		say(c, "firmware:    %s", v.Firmware)
		if v.AAGUID == "" {
			return
		}
		say(c, "model:       %s (AAGUID %s)", or(v.Model, "unknown"), v.AAGUID)
		var on, off []string
		for _, k := range sortedKeys(v.Options) {
			if v.Options[k] {
				on = append(on, k)
			} else {
				off = append(off, k)
			}
		}
		say(c, "options:     %s%s", strings.Join(on, " "), map[bool]string{true: "; off: " + strings.Join(off, " ")}[len(off) > 0])
		say(c, "extensions:  %s", or(strings.Join(v.Extensions, " "), "none"))
		say(c, "algorithms:  %s", strings.Join(v.Algorithms, " "))
		pin := v.PIN
		if v.PINRetries != nil {
			pin += fmt.Sprintf(", %s left", plural(*v.PINRetries, "try", "tries"))
		}
		say(c, "PIN:         %s (at least %d characters)", pin, v.MinPINLength)
		if v.PINState != "" {
			say(c, "             %s", v.PINState)
		}
		if v.ResidentRoom != nil {
			say(c, "resident credentials: room for %d more", *v.ResidentRoom)
		}
	})
}

func describeInfo(c *cli.Context, cl *hid.Client, gi *u2f.AuthenticatorInfo, v *infoView) {
	v.Versions, v.AAGUID, v.Options, v.Extensions = gi.Versions, gi.AAGUID.String(), gi.Options, gi.Extensions
	v.MinPINLength, v.ResidentRoom = gi.PINMinLength(), gi.RemainingDiscoverableCredentials
	for _, a := range gi.Algorithms {
		v.Algorithms = append(v.Algorithms, a.Alg.String())
	}
	if len(v.Algorithms) == 0 {
		v.Algorithms = []string{u2f.ES256.String()}
	}
	v.Model = modelName(c, gi.AAGUID)
	set, supported := gi.Option("clientPin")
	if !supported {
		return
	}
	v.PIN = map[bool]string{true: "set", false: "not set"}[set]
	if !set {
		return
	}
	n, cycle, err := cl.PINRetries(c.Context)
	if err != nil {
		note(c, "the key did not say how many PIN tries are left: %v", err)
		return
	}
	v.PINRetries, v.PowerCycle = &n, cycle
	switch {
	case n == 0:
		v.PINState = pinBlockedWords
	case cycle:
		v.PINState = powerCycleWords
	case gi.ForcePINChange:
		v.PINState = "the key wants a new PIN before it takes the current one again: keydesk key pin change"
	}
}

// modelName names a model: by the FIDO metadata imported, else by what
// keydesk knows. Without an inventory there is no metadata.
func modelName(c *cli.Context, a u2f.AAGUID) string {
	if a == softkey.AAGUID {
		return "keydesk soft key"
	}
	s, err := open(c)
	if err != nil {
		return ""
	}
	defer s.Close()
	m, err := s.desk.MDS(c.Context)
	if err != nil || m == nil {
		return ""
	}
	if e, ok := m.Entry(a); ok {
		return e.Description
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func keyPINCommand() *cli.Command {
	newPIN := &cli.StringFlag{Name: "new-pin-file", Usage: "`FILE` holding the new PIN (default: asked twice on a terminal)"}
	return &cli.Command{
		Name:  "pin",
		Usage: "set or change the PIN of the key plugged in",
		Subcommands: []*cli.Command{
			{
				Name: "set", Usage: "give a key without a PIN its first",
				Flags: []cli.Flag{deviceFlag, touchFlag, newPIN,
					&cli.StringFlag{Name: "pin-file", Usage: "`FILE` holding the new PIN (the same as --new-pin-file)"}, jsonFlag},
				Action: keyPINSet,
			},
			{
				Name: "change", Usage: "replace the key's PIN (a wrong current PIN costs one of its tries)",
				Flags:  []cli.Flag{deviceFlag, touchFlag, pinFileFlag, newPIN, jsonFlag},
				Action: keyPINChange,
			},
		},
	}
}

// newPIN reads a new PIN from a file or asks for it twice on a terminal,
// and checks it against the key's rules before it is sent.
func newPIN(c *cli.Context, cl *hid.Client, flags ...string) (string, error) {
	gi, err := cl.GetInfo(c.Context)
	if err != nil {
		return "", err
	}
	var pin string
	for _, f := range flags {
		if c.String(f) != "" {
			if pin, err = readPINFile(c.String(f)); err != nil {
				return "", err
			}
			break
		}
	}
	if pin == "" {
		instead := "give the new PIN with --new-pin-file FILE"
		first, err := promptSecret(c, "New PIN: ", instead)
		if err != nil {
			return "", err
		}
		again, err := promptSecret(c, "New PIN again: ", instead)
		if err != nil {
			return "", err
		}
		if string(first) != string(again) {
			return "", verify.Refusef("the two PINs typed differ; nothing was changed")
		}
		pin = string(first)
	}
	if err := u2f.CheckPIN(pin, gi.PINMinLength()); err != nil {
		return "", explainKey(c, cl, err)
	}
	return pin, nil
}

func keyPINSet(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	cl, path, err := openCTAP2(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	pin, err := newPIN(c, cl, "new-pin-file", "pin-file")
	if err != nil {
		return err
	}
	if err := cl.SetPIN(c.Context, pin); err != nil {
		return explainKey(c, cl, err)
	}
	return done(c, fmt.Sprintf("the key at %s has a PIN now", path), "device", path)
}

func keyPINChange(c *cli.Context) error {
	if _, err := args(c); err != nil {
		return err
	}
	cl, path, err := openCTAP2(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	current, err := currentPIN(c, "Current PIN of the key: ")
	if err != nil {
		return err
	}
	pin, err := newPIN(c, cl, "new-pin-file")
	if err != nil {
		return err
	}
	if err := cl.ChangePIN(c.Context, current, pin); err != nil {
		return explainKey(c, cl, err)
	}
	return done(c, fmt.Sprintf("the PIN of the key at %s is changed", path), "device", path)
}

// currentPIN is the key's PIN from --pin-file or the terminal; an
// operation that cannot go without it says so.
func currentPIN(c *cli.Context, prompt string) (string, error) {
	pin, err := pinSource(c, "pin-file", prompt)()
	if err != nil {
		return "", err
	}
	if pin == "" {
		return "", &keyError{"pin_required", "this needs the key's PIN: give it with --pin-file FILE, or run keydesk on a terminal to be asked", desk.ErrPINRequired}
	}
	return pin, nil
}

// openCTAP2 opens the key plugged in, which must speak CTAP2.
func openCTAP2(c *cli.Context) (*hid.Client, string, error) {
	cl, path, err := openKey(c)
	if err != nil {
		return nil, "", err
	}
	if !cl.Info().CTAP2() {
		cl.Close()
		return nil, "", verify.Refusef("the key at %s speaks U2F only: it has no PIN, reset or resident credentials", path)
	}
	return cl, path, nil
}

func keyReset(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	const warning = "a reset erases every credential on the key and its PIN, for every site"
	if !c.Bool("yes") {
		fmt.Fprintf(c.App.ErrWriter, "%s; real keys accept it only within seconds of being plugged in, and with a touch.\n", warning)
		if !confirm(c, "Reset the key?") {
			return verify.Refusef("not reset: %s; confirm with --yes", warning)
		}
	}
	cl, path, err := openCTAP2(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := s.desk.ResetKey(c.Context, keyDevice(c, cl))
	if err != nil {
		return explainKey(c, cl, err)
	}
	var removed []string
	for _, k := range res.Removed {
		removed = append(removed, fmt.Sprintf("key #%d %q of %s", k.ID, k.Name, k.User))
	}
	if res.Unknown {
		note(c, "the key could not say which registrations it held; those left in the inventory fail their next test")
	}
	if !wantJSON(c) {
		say(c, "the key at %s is reset: its credentials and PIN are erased", path)
		for _, r := range removed {
			say(c, "  removed: %s", r)
		}
		return nil
	}
	return printJSON(c, map[string]any{"ok": true, "device": path, "removed": res.Removed, "unknown": res.Unknown})
}

func keyCredsCommand() *cli.Command {
	return &cli.Command{
		Name:  "creds",
		Usage: "the resident credentials on the key plugged in (needs its PIN)",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list the key's resident credentials, and whose registration each is",
				Flags: []cli.Flag{deviceFlag, touchFlag, pinFileFlag, jsonFlag}, Action: withSession(keyCredsList)},
			{Name: "delete", Usage: "delete a resident credential from the key; its registration is removed", ArgsUsage: "CREDENTIAL-ID",
				Flags: []cli.Flag{deviceFlag, touchFlag, pinFileFlag, jsonFlag}, Action: withSession(keyCredsDelete)},
		},
	}
}

// credView is one resident credential.
type credView struct {
	RPID         string `json:"rp_id"`
	ID           string `json:"credential_id"` // base64url, as key creds delete takes it
	UserName     string `json:"user_name,omitempty"`
	DisplayName  string `json:"display_name,omitempty"`
	UserHandle   string `json:"user_handle"`
	CredProtect  int    `json:"cred_protect,omitempty"`
	Registration string `json:"registration,omitempty"` // the inventory's key, if it has it
}

// credToken opens a CTAP2 key and gets a token with the cm permission.
func credToken(c *cli.Context) (*hid.Client, *u2f.PINToken, error) {
	cl, _, err := openCTAP2(c)
	if err != nil {
		return nil, nil, err
	}
	pin, err := currentPIN(c, "PIN of the key: ")
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	tok, err := cl.PINTokenWithPermissions(c.Context, pin, u2f.PermCredentialManagement, "")
	if err != nil {
		err = explainKey(c, cl, err)
		cl.Close()
		return nil, nil, err
	}
	return cl, tok, nil
}

func keyCredsList(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	cl, tok, err := credToken(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	existing, remaining, err := cl.CredsMetadata(c.Context, tok)
	if err != nil {
		return explainKey(c, cl, err)
	}
	rps, err := cl.ResidentRPs(c.Context, tok)
	if err != nil {
		return explainKey(c, cl, err)
	}
	var views []credView
	for _, rp := range rps {
		creds, err := cl.ResidentCredentials(c.Context, tok, rp.RPIDHash)
		if err != nil {
			return explainKey(c, cl, err)
		}
		for _, rc := range creds {
			v := credView{RPID: rp.RP.ID, ID: base64.RawURLEncoding.EncodeToString(rc.ID.ID), UserName: rc.User.Name,
				DisplayName: rc.User.DisplayName, UserHandle: base64.RawURLEncoding.EncodeToString(rc.User.ID), CredProtect: int(rc.CredProtect)}
			if k, err := s.desk.KeyOfCredential(c.Context, rc.ID.ID); err == nil {
				v.Registration = fmt.Sprintf("key #%d %q of %s (%s)", k.ID, k.Name, k.User, k.State)
			}
			views = append(views, v)
		}
	}
	if wantJSON(c) {
		if views == nil {
			views = []credView{}
		}
		return printJSON(c, map[string]any{"existing": existing, "remaining": remaining, "credentials": views})
	}
	say(c, "%s on the key, room for %d more", plural(existing, "resident credential", "resident credentials"), remaining)
	if len(views) == 0 {
		return nil
	}
	return printList(c, views, []string{"RP", "USER", "DISPLAY NAME", "CREDENTIAL ID", "REGISTRATION"}, func(v credView) []string {
		return []string{v.RPID, v.UserName, v.DisplayName, v.ID, or(v.Registration, "not in the inventory")}
	})
}

func keyCredsDelete(c *cli.Context, s *session) error {
	a, err := args(c, "CREDENTIAL-ID")
	if err != nil {
		return err
	}
	id, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(a[0], "="))
	if err != nil || len(id) == 0 {
		return usagef("%q is not a credential id as key creds list shows it (base64url)", a[0])
	}
	cl, tok, err := credToken(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	k, err := s.desk.DeleteResidentCredential(ctx, cl, tok, id)
	if err != nil {
		return explainKey(c, cl, err)
	}
	msg := "the credential is deleted from the key"
	if k.ID != 0 {
		msg += fmt.Sprintf("; key #%d %q of %s is removed", k.ID, k.Name, k.User)
	}
	return done(c, msg, "credential_id", a[0], "removed_key", k.ID)
}
