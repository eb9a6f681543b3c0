package server

import (
	"strings"
	"testing"
)

func TestPortalConfigDefaults(t *testing.T) {
	c := Config{PortalConfig: PortalConfig{RPID: "example.edu", Portal: true, PortalURL: "https://keydesk.example.edu/portal/"}}
	c.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := c.PortalConfig
	if p.AppID != "https://example.edu" || len(p.Origins) != 1 || p.Origins[0] != "https://keydesk.example.edu" ||
		p.RPName != "example.edu" || p.Issuer != "example.edu" || p.UserVerification != "discouraged" {
		t.Errorf("defaults %+v", p)
	}
}

func TestPortalConfigRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		p    PortalConfig
		want string
	}{
		{"portal without an address", PortalConfig{Portal: true}, "portal_url must say where"},
		{"plain http elsewhere than localhost", PortalConfig{Portal: true, PortalURL: "http://keydesk.example.edu/portal/"}, "http only on localhost"},
		{"not under /portal/", PortalConfig{Portal: true, PortalURL: "https://keydesk.example.edu/"}, "must end in /portal/"},
		{"an origin of another site", PortalConfig{RPID: "example.edu", Origins: []string{"https://example.org"}}, "not on example.edu"},
		{"an origin that is a suffix but no subdomain", PortalConfig{RPID: "example.edu", Origins: []string{"https://badexample.edu"}}, "not on example.edu"},
		{"an origin with a path", PortalConfig{RPID: "example.edu", Origins: []string{"https://login.example.edu/x"}}, "not an origin"},
		{"an rp_id with a scheme", PortalConfig{RPID: "https://example.edu", Origins: []string{"https://example.edu"}}, "not a domain name"},
		{"the portal off the relying party", PortalConfig{RPID: "example.edu", Origins: []string{"https://login.example.edu"}, Portal: true,
			PortalURL: "https://keydesk.example.org/portal/"}, "not on rp_id"},
		{"a user verification of another word", PortalConfig{UserVerification: "always"}, "user_verification"},
		{"an AAGUID of the wrong length", PortalConfig{AAGUIDDeny: []string{"2fc0579f"}}, "aaguid_deny: \"2fc0579f\" is not an AAGUID"},
		{"an issuer with a colon", PortalConfig{Issuer: "Example: University"}, "no colon"},
	} {
		cfg := Config{PortalConfig: c.p}
		cfg.Default()
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// On localhost, plain http is fine: the tests' and a laptop's portal.
	cfg := Config{PortalConfig: PortalConfig{RPID: "localhost", Portal: true, PortalURL: "http://localhost:8700/portal/"}}
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Errorf("localhost: %v", err)
	}
	s, err := New(cfg, newFixture(t, Config{}).srv.deps)
	if err != nil || s.web.secure || s.web.base != "/portal/" {
		t.Errorf("on http://localhost cookies are not Secure: %+v %v", s.web, err)
	}
}
