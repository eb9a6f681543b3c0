package server

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// PortalConfig is the part of the config for security keys in the
// browser (WebAuthn) and the self-service portal. Its fields sit at the
// top level of the config file.
type PortalConfig struct {
	// RPID is the WebAuthn relying party keys are registered for, the
	// institution's domain ("example.edu"); keys in the browser are off
	// when it is empty.
	RPID string `json:"rp_id"`
	// RPName is what browsers show the user; RPID when empty.
	RPName string `json:"rp_name"`
	// Origins are the pages WebAuthn ceremonies may come from
	// ("https://login.example.edu"): the applications' sign-in pages and
	// the portal. Each is https (http only on localhost) on RPID or a
	// host under it. The portal's own origin when empty.
	Origins []string `json:"origins"`
	// AppID is the U2F AppID of keys registered at the desk over U2F,
	// which browsers reach through the appid extension;
	// https://<rp_id> when empty.
	AppID string `json:"app_id"`
	// UserVerification is asked of keys (WebAuthn §5.8.6): "discouraged"
	// (the default: a key is the second factor, a PIN would be a third),
	// "preferred", or "required", which refuses keys that did not verify.
	UserVerification string `json:"user_verification"`

	// Portal serves the self-service portal under /portal/.
	Portal bool `json:"portal"`
	// PortalURL is where users reach the portal, ending in /portal/
	// ("https://keydesk.example.edu/portal/"): links sent to users start
	// with it, and its scheme says whether cookies are Secure. It must be
	// https, or http on localhost (for tests).
	PortalURL string `json:"portal_url"`
	// Issuer is the name authenticator apps show beside a phone app's
	// codes; RPName when empty.
	Issuer string `json:"issuer"`
	// PortalSessionIdle ends a portal session not used for that long;
	// PortalSessionMax ends one however much it is used.
	PortalSessionIdle Duration `json:"portal_session_idle"`
	PortalSessionMax  Duration `json:"portal_session_max"`

	// The policy keys registered through a browser are held to, the one
	// of keydesk key register's flags of the same names: vendor roots (a
	// folder of PEM files, besides the built-in ones), whether the
	// attestation must chain to one, and AAGUID allow and deny lists.
	// The FIDO metadata is the BLOB imported into the inventory (keydesk
	// mds import), read at each registration, as at the desk.
	AttestationRoots string   `json:"attestation_roots"`
	RequireTrusted   bool     `json:"require_trusted"`
	AAGUIDAllow      []string `json:"aaguid_allow"`
	AAGUIDDeny       []string `json:"aaguid_deny"`

	// Registration, when set, is the registration policy instead of the
	// one the fields above make; for tests. Not loaded from a file.
	Registration *verify.RegistrationPolicy `json:"-"`
}

// defaultPortal fills in what was left zero.
func (c *PortalConfig) defaultPortal() {
	if c.RPName == "" {
		c.RPName = or(c.RPID, "keydesk")
	}
	if c.AppID == "" && c.RPID != "" {
		c.AppID = "https://" + c.RPID
	}
	if len(c.Origins) == 0 && c.PortalURL != "" {
		if u, err := url.Parse(c.PortalURL); err == nil && u.Host != "" {
			c.Origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	if c.UserVerification == "" {
		c.UserVerification = "discouraged"
	}
	if c.Issuer == "" {
		c.Issuer = c.RPName
	}
	if c.PortalSessionIdle == 0 {
		c.PortalSessionIdle = Duration(15 * time.Minute)
	}
	if c.PortalSessionMax == 0 {
		c.PortalSessionMax = Duration(8 * time.Hour)
	}
}

// validatePortal says what is wrong with a defaulted PortalConfig.
func (c *PortalConfig) validatePortal() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.RPID != "" && !domainName(c.RPID) {
		bad("rp_id %q is not a domain name such as example.edu (no scheme, port or path)", c.RPID)
	}
	if c.RPID != "" && len(c.Origins) == 0 {
		bad("rp_id %q needs origins, the pages that sign in with keys (or a portal_url)", c.RPID)
	}
	for _, o := range c.Origins {
		if err := checkOrigin(o, c.RPID); err != nil {
			bad("origins: %v", err)
		}
	}
	switch c.UserVerification {
	case "discouraged", "preferred", "required":
	default:
		bad("user_verification %q: want discouraged, preferred or required", c.UserVerification)
	}
	if c.Portal {
		if c.PortalURL == "" {
			bad("portal is on: portal_url must say where users reach it, such as https://keydesk.example.edu/portal/")
		} else if err := CheckPortalURL(c.PortalURL); err != nil {
			bad("portal_url: %v", err)
		} else if c.RPID != "" && checkOrigin(origin(c.PortalURL), c.RPID) != nil {
			bad("portal_url %q is not on rp_id %q or a host under it, so keys could not be used in the portal", c.PortalURL, c.RPID)
		}
	}
	if c.Issuer == "" || len(c.Issuer) > 64 || strings.ContainsAny(c.Issuer, ":\n\r") {
		bad("issuer %q: 1 to 64 characters, no colon", c.Issuer)
	}
	if c.PortalSessionIdle <= 0 || c.PortalSessionMax <= 0 || c.PortalSessionIdle > c.PortalSessionMax {
		bad("portal_session_idle and portal_session_max must be positive, the idle time no longer than the maximum")
	}
	if _, err := parseAAGUIDs(c.AAGUIDAllow); err != nil {
		bad("aaguid_allow: %v", err)
	}
	if _, err := parseAAGUIDs(c.AAGUIDDeny); err != nil {
		bad("aaguid_deny: %v", err)
	}
	return errs
}

// domainName reports a lower-case DNS name, or localhost.
func domainName(s string) bool {
	if s == "" || len(s) > 253 || strings.ToLower(s) != s || net.ParseIP(s) != nil {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

func localhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// checkOrigin checks an origin a ceremony may come from: scheme and host
// (and port) only, https unless on localhost, and on the RP ID or under
// it (WebAuthn §5.1.3: the RP ID is a registrable suffix of the origin's
// host).
func checkOrigin(o, rpID string) error {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin such as https://login.example.edu", o)
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "http" && !localhost(host):
		return fmt.Errorf("%q: http only on localhost; browsers allow WebAuthn on https", o)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want https", o)
	case rpID != "" && host != rpID && !strings.HasSuffix(host, "."+rpID):
		return fmt.Errorf("%q is not on %s or a host under it", o, rpID)
	}
	return nil
}

// CheckPortalURL says what is wrong with the portal's address, if anything.
func CheckPortalURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an address such as https://keydesk.example.edu/portal/", s)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && localhost(u.Hostname())) {
		return fmt.Errorf("%q: https, or http only on localhost: the portal's cookies are sent only over TLS", s)
	}
	if !strings.HasSuffix(u.Path, "/portal/") {
		return fmt.Errorf("%q must end in /portal/, where keydesk serves it", s)
	}
	return nil
}

func origin(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// parseAAGUIDs reads AAGUIDs as the desk's flags take them.
func parseAAGUIDs(list []string) ([]u2f.AAGUID, error) {
	var out []u2f.AAGUID
	for _, s := range list {
		a, err := u2f.ParseAAGUID(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// site is the relying party of the desk's WebAuthn ceremonies.
func (c *PortalConfig) site() desk.Site {
	return desk.Site{RPID: c.RPID, RPName: c.RPName, AppID: c.AppID, Origins: c.Origins, UserVerification: c.UserVerification}
}

func (c *PortalConfig) sessions() desk.SessionPolicy {
	return desk.SessionPolicy{Idle: time.Duration(c.PortalSessionIdle), Max: time.Duration(c.PortalSessionMax)}
}

// registrationPolicy reads the files the config names into the policy
// keys registered through a browser are held to. Its MDS is left nil:
// the desk reads the BLOB imported at each registration.
func (c *PortalConfig) registrationPolicy() (verify.RegistrationPolicy, error) {
	if c.Registration != nil {
		return *c.Registration, nil
	}
	var p verify.RegistrationPolicy
	ts, err := verify.BuiltinTrustStore()
	if err != nil {
		return p, err
	}
	if c.AttestationRoots != "" {
		if err := ts.LoadTrustDir(c.AttestationRoots); err != nil {
			return p, err
		}
	}
	p.Trust, p.RequireTrusted = ts, c.RequireTrusted
	if p.AllowAAGUIDs, err = parseAAGUIDs(c.AAGUIDAllow); err != nil {
		return p, err
	}
	if p.DenyAAGUIDs, err = parseAAGUIDs(c.AAGUIDDeny); err != nil {
		return p, err
	}
	return p, nil
}
