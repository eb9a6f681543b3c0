package directory

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validConfig(t *testing.T) Config {
	pw := filepath.Join(t.TempDir(), "bind.pw")
	if err := os.WriteFile(pw, []byte("service-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{
		Kind:             OpenLDAP,
		URL:              "ldaps://ldap.example.edu",
		BindDN:           "cn=keydesk,ou=services,dc=example,dc=edu",
		BindPasswordFile: pw,
		BaseDN:           "dc=example,dc=edu",
		ScopeGroup:       "cn=vpn-users,ou=groups,dc=example,dc=edu",
	}
}

func TestDefaults(t *testing.T) {
	var ad, ol Config
	ad.Kind, ol.Kind = ActiveDirectory, OpenLDAP
	ad.Default()
	ol.Default()
	for _, tc := range []struct{ key, got, want string }{
		{"ad user_filter", ad.UserFilter, "(&(objectClass=user)(sAMAccountName=%s))"},
		{"openldap user_filter", ol.UserFilter, "(&(objectClass=inetOrgPerson)(uid=%s))"},
		{"ad nesting", string(ad.Nesting), "in_chain"},
		{"openldap nesting", string(ol.Nesting), "walk"},
		{"ad id", ad.Attributes.ID, "objectGUID"},
		{"ad id_format", string(ad.Attributes.IDFormat), "guid"},
		{"openldap id", ol.Attributes.ID, "entryUUID"},
		{"openldap id_format", string(ol.Attributes.IDFormat), "uuid"},
		{"ad disabled", ad.Disabled.Attribute, "userAccountControl"},
		{"openldap disabled", ol.Disabled.Attribute + "=" + ol.Disabled.Value, "pwdAccountLockedTime=000001010000Z"},
		{"timeout", ol.Timeout.String(), "3s"},
		{"fail_mode", string(ol.FailMode), "secure"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.key, tc.got, tc.want)
		}
	}
	if ad.Disabled.Bit != 0x2 || ol.MaxConnections != 8 || ol.MaxDisableShare != 0.1 {
		t.Errorf("ad bit %#x, max_connections %d, max_disable_share %v", ad.Disabled.Bit, ol.MaxConnections, ol.MaxDisableShare)
	}

	// What is set stays set; an empty marker stays empty.
	c := Config{Kind: ActiveDirectory, UserFilter: "(uid=%s)", Disabled: &DisabledMarker{}, Timeout: Duration{time.Second}}
	c.Default()
	if c.UserFilter != "(uid=%s)" || c.Disabled.Attribute != "" || c.Timeout.Duration != time.Second {
		t.Errorf("Default overwrote settings: %+v", c)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		say    string
	}{
		{"kind", func(c *Config) { c.Kind = "novell" }, `kind "novell"`},
		{"url scheme", func(c *Config) { c.URL = "http://ldap.example.edu" }, "want ldaps:// or ldap://"},
		{"url with a DN", func(c *Config) { c.URL = "ldaps://ldap.example.edu/dc=example,dc=edu" }, "nothing more"},
		{"plain ldap to another host", func(c *Config) { c.URL = "ldap://ldap.example.edu" }, "in the clear"},
		{"ldaps with start_tls", func(c *Config) { c.StartTLS = true }, "ldaps:// already"},
		{"no bind_dn", func(c *Config) { c.BindDN = "" }, "bind_dn is required"},
		{"bad base_dn", func(c *Config) { c.BaseDN = "dc=example,,dc=edu" }, "base_dn"},
		{"bad scope_group", func(c *Config) { c.ScopeGroup = "not a dn" }, "scope_group"},
		{"no password file", func(c *Config) { c.BindPasswordFile = "" }, "bind_password_file is required"},
		{"filter without %s", func(c *Config) { c.UserFilter = "(uid=alice)" }, "%s exactly once"},
		{"filter with %s twice", func(c *Config) { c.UserFilter = "(|(uid=%s)(mail=%s))" }, "%s exactly once"},
		{"filter unbalanced", func(c *Config) { c.UserFilter = "(&(uid=%s)" }, "user_filter"},
		{"group filter", func(c *Config) { c.GroupFilter = "objectClass=group" }, "group_filter"},
		{"in_chain on openldap", func(c *Config) { c.Nesting = InChain }, "Active Directory only"},
		{"nesting", func(c *Config) { c.Nesting = "deep" }, `nesting "deep"`},
		{"attribute", func(c *Config) { c.Attributes.Email = "mail)(uid=*" }, "attributes.email"},
		{"id format", func(c *Config) { c.Attributes.IDFormat = "int" }, "attributes.id_format"},
		{"marker with value and bit", func(c *Config) { c.Disabled = &DisabledMarker{Attribute: "x", Value: "y", Bit: 2} }, "exclusive"},
		{"marker without attribute", func(c *Config) { c.Disabled = &DisabledMarker{Value: "y"} }, "without an attribute"},
		{"timeout", func(c *Config) { c.Timeout.Duration = -time.Second }, "timeout"},
		{"max_connections", func(c *Config) { c.MaxConnections = 5000 }, "max_connections"},
		{"fail_mode", func(c *Config) { c.FailMode = "open" }, "fail_mode"},
		{"max_disable_share", func(c *Config) { c.MaxDisableShare = 2 }, "max_disable_share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			c.Default()
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.say) {
				t.Errorf("got %v, want an error saying %q", err, tc.say)
			}
		})
	}
	for _, url := range []string{"ldap://127.0.0.1:3389", "ldap://localhost", "ldap://[::1]:389", "ldaps://ldap.example.edu:3269"} {
		c := validConfig(t)
		c.URL = url
		c.Default()
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	const doc = `{"kind":"ad","url":"ldap://dc1.example.edu","start_tls":true,
		"bind_dn":"CN=keydesk,OU=Services,DC=example,DC=edu","bind_password_file":"/etc/keydesk/ldap.pw",
		"base_dn":"DC=example,DC=edu","timeout":"2500ms","fail_mode":"safe",
		"disabled":{"attribute":"userAccountControl","bit":2}}`
	var c Config
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	c.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Timeout.Duration != 2500*time.Millisecond || c.FailMode != FailSafe || c.Nesting != InChain {
		t.Errorf("read %+v", c)
	}
	out, err := json.Marshal(c)
	if err != nil || !strings.Contains(string(out), `"timeout":"2.5s"`) {
		t.Errorf("written %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"timeout":3}`), &c); err == nil {
		t.Error("a timeout without a unit was taken")
	}
}

func TestNewReadsThePasswordFile(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret", "s3cret"},
		{"s3cret\n\n", "s3cret\n"},
		{" s3cret ", " s3cret "},
	} {
		c := validConfig(t)
		if err := os.WriteFile(c.BindPasswordFile, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readPasswordFile(c.BindPasswordFile)
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: read %q, %v; want %q", tc.file, got, err, tc.want)
		}
	}
	c := validConfig(t)
	c.Default()
	if err := os.WriteFile(c.BindPasswordFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty password file: %v", err)
	}
	c.BindPasswordFile = filepath.Join(t.TempDir(), "missing")
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "bind_password_file") {
		t.Errorf("a missing password file: %v", err)
	}
	c = validConfig(t)
	c.Default()
	c.CAFile = c.BindPasswordFile
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
}
