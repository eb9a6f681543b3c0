package main

// key register and key test: the desk does the work; here are the flags
// turned into the desk's rules, and the key's answers into sentences.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// keyRules are the desk's rules as the flags set them.
func keyRules(c *cli.Context) (desk.KeyRules, error) {
	r := desk.KeyRules{RPID: c.String("rp-id"), Origin: c.String("origin"), AppID: c.String("app-id"), RequirePIN: c.Bool("require-pin")}
	if r.RPID != "" {
		if err := checkRPID(r.RPID); err != nil {
			return r, err
		}
	}
	ts, err := verify.BuiltinTrustStore()
	if err != nil {
		return r, err
	}
	if dir := c.String("attestation-roots"); dir != "" {
		if err := ts.LoadTrustDir(dir); err != nil {
			return r, err
		}
	}
	r.Registration = verify.RegistrationPolicy{Trust: ts, RequireTrusted: c.Bool("require-trusted")}
	if r.Registration.AllowAAGUIDs, err = aaguids(c, "aaguid-allow"); err != nil {
		return r, err
	}
	if r.Registration.DenyAAGUIDs, err = aaguids(c, "aaguid-deny"); err != nil {
		return r, err
	}
	return r, nil
}

// checkRPID refuses what cannot be a relying party ID: WebAuthn §5.1.2
// makes it a domain, without scheme, port or path.
func checkRPID(id string) error {
	if strings.ContainsAny(id, ":/ ") || strings.Trim(id, ".") != id || strings.ToLower(id) != id {
		return usagef("--rp-id %q is not a domain: name the relying party as example.edu (lower case, no https://, port or path)", id)
	}
	return nil
}

func aaguids(c *cli.Context, flag string) ([]u2f.AAGUID, error) {
	var out []u2f.AAGUID
	for _, v := range c.StringSlice(flag) {
		for _, s := range strings.Split(v, ",") {
			a, err := u2f.ParseAAGUID(strings.TrimSpace(s))
			if err != nil {
				return nil, usagef("--%s: %v", flag, err)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// keyDevice is the desk's view of the key plugged in: the protocols its
// INIT answer announced, and where its PIN comes from.
func keyDevice(c *cli.Context, cl *hid.Client) desk.Device {
	d := desk.Device{PIN: pinSource(c, "pin-file", "PIN of the key: ")}
	if cl.Info().U2F() {
		d.U2F = cl
	}
	if cl.Info().CTAP2() {
		d.CTAP2 = cl
	}
	return d
}

// maxPINFile bounds what a PIN file may hold: a PIN is at most 63 bytes.
const maxPINFile = 256

// pinSource reads a PIN from the file the flag names or, without one,
// asks on a terminal; with neither it gives none (""), and the desk says
// the key needs it. It is called only when the key needs its PIN.
func pinSource(c *cli.Context, flag, prompt string) func() (string, error) {
	return func() (string, error) {
		if path := c.String(flag); path != "" {
			return readPINFile(path)
		}
		if _, ok := terminal(c); !ok {
			return "", nil
		}
		b, err := promptSecret(c, prompt, "")
		return string(b), err
	}
}

// readPINFile reads a PIN: the file's text without the line end an
// editor adds.
func readPINFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return "", err
	}
	if len(raw) > maxPINFile {
		return "", fmt.Errorf("%s: longer than %d bytes, so not a PIN", path, maxPINFile)
	}
	raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
	if len(raw) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(raw), nil
}

type keyView struct {
	User         string `json:"user"`
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	RPID         string `json:"rp_id,omitempty"`
	AppID        string `json:"app_id,omitempty"`
	Resident     bool   `json:"resident"`
	UserVerified bool   `json:"user_verified"`
	Model        string `json:"model,omitempty"`
	Format       string `json:"attestation_format"`
	Attestation  string `json:"attestation"`
	Issuer       string `json:"issuer,omitempty"`
	Warning      string `json:"warning,omitempty"`
	Counter      uint32 `json:"counter"`
	Device       string `json:"device"`
	Firmware     string `json:"firmware,omitempty"`
	AAGUID       string `json:"aaguid,omitempty"`
	Versions     string `json:"versions,omitempty"`
}

func keyRegister(c *cli.Context, s *session) error {
	a, err := args(c, "USER")
	if err != nil {
		return err
	}
	rules, err := keyRules(c)
	if err != nil {
		return err
	}
	if rules.RPID == "" && rules.AppID == "" {
		return usagef("key register needs the relying party keys are registered for: --rp-id DOMAIN (or KEYDESK_RP_ID), the domain of the institution's logins, e.g. example.edu")
	}
	cl, path, err := openKey(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	v := keyView{Device: path}
	describeKey(c, cl, &v)
	reg, err := s.desk.RegisterKey(c.Context, keyDevice(c, cl), desk.KeyRequest{User: a[0], Name: c.String("name"), Resident: c.Bool("resident")}, rules)
	if err != nil {
		return explainKey(c, cl, err)
	}
	k, att := reg.Key, reg.Attestation
	v.User, v.ID, v.Name, v.Kind, v.RPID, v.AppID, v.Resident, v.UserVerified = k.User, k.ID, k.Name, k.Kind, k.RPID, k.AppID, k.Resident, k.UserVerified
	v.Model, v.Format, v.Attestation, v.Issuer, v.Warning, v.Counter = att.Model, k.AttestationFormat, att.Result, att.Issuer, att.Warning, k.Counter
	if v.Warning != "" {
		note(c, "warning: %s", v.Warning)
	}
	return answer(c, v, func() {
		say(c, "registered key #%d %q to %s", v.ID, v.Name, v.User)
		say(c, "model:       %s", or(v.Model, "unknown"))
		say(c, "credential:  %s", credentialWords(v))
		say(c, "attestation: %s, %s%s", v.Format, v.Attestation, map[bool]string{true: " (issuer " + v.Issuer + ")"}[v.Issuer != ""])
	})
}

func credentialWords(v keyView) string {
	if v.Kind == "ctap2" {
		w := "CTAP2, for " + v.RPID
		if v.Resident {
			w += ", resident"
		}
		if v.UserVerified {
			w += ", PIN verified"
		}
		return w
	}
	return "U2F, under the AppID " + v.AppID
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
	return testTouch(c, s, a[0], func(d verify.Decision) error {
		if d.Allow && !wantJSON(c) {
			say(c, "key #%d %q of %s works: %s, counter %d", d.KeyID, d.KeyName, a[0], or(d.KeyModel, "unknown model"), d.Counter)
			return nil
		}
		return printDecision(c, d)
	})
}

// testTouch has the user touch the key plugged in, and shows the decision.
func testTouch(c *cli.Context, s *session, user string, show func(verify.Decision) error) error {
	rules, err := keyRules(c)
	if err != nil {
		return err
	}
	cl, _, err := openKey(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	d, err := s.desk.TestKey(c.Context, keyDevice(c, cl), user, rules, s.origin())
	if err != nil {
		return fmt.Errorf("no decision: %w", explainKey(c, cl, err))
	}
	return show(d)
}

var errCancelled = errors.New("cancelled: the key was told to stop waiting")
