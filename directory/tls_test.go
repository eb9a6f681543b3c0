package directory

import (
	"errors"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/internal/slapd"
)

// slapd with a certificate from a test CA: StartTLS and ldaps:// work
// when the client trusts the CA, and fail as ErrUnavailable when it does
// not or when the name does not match.
func TestTLS(t *testing.T) {
	srv, base := startDirectory(t, slapd.Options{TLS: true})
	for _, tc := range []struct {
		name   string
		change func(*Config)
		say    string // empty: the login works
	}{
		{"starttls", func(c *Config) { c.StartTLS = true }, ""},
		{"ldaps", func(c *Config) { c.URL = srv.LDAPSURL }, ""},
		{"ldaps by name", func(c *Config) {
			c.URL = strings.Replace(srv.LDAPSURL, "127.0.0.1", "localhost", 1)
		}, ""},
		{"starttls, CA not trusted", func(c *Config) { c.StartTLS, c.CAFile = true, "" }, "certificate signed by unknown authority"},
		{"ldaps, CA not trusted", func(c *Config) { c.URL, c.CAFile = srv.LDAPSURL, "" }, "certificate signed by unknown authority"},
		{"ldaps, wrong name", func(c *Config) { c.URL, c.ServerName = srv.LDAPSURL, "ldap.example.edu" }, "not ldap.example.edu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.CAFile = srv.CAFile
			tc.change(&cfg)
			c := newClient(t, cfg)
			e, err := c.Authenticate(ctx(t), "alice", "alice-pw")
			switch {
			case tc.say == "" && err != nil:
				t.Fatal(err)
			case tc.say == "" && e.Username != "alice":
				t.Errorf("entry %+v", e)
			case tc.say != "" && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.say)):
				t.Errorf("got %v; want ErrUnavailable saying %q", err, tc.say)
			}
		})
	}
}

// The connection a StartTLS client uses is encrypted: the bind is not
// sent before TLS. slapd refuses a plain bind here only if told to, so the
// test reads the state of the pooled connection.
func TestStartTLSEncrypts(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{TLS: true})
	cfg.StartTLS, cfg.CAFile = true, srv.CAFile
	c := newClient(t, cfg)
	if _, err := c.Lookup(ctx(t), "alice"); err != nil {
		t.Fatal(err)
	}
	conn, _, err := c.search.get(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.search.put(conn)
	if state, ok := conn.TLSConnectionState(); !ok || !state.HandshakeComplete {
		t.Errorf("the service connection is not encrypted")
	}
}
