package directory

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/slapd"
)

// Every way the directory can fail to answer ends in ErrUnavailable, and
// each call returns: the timeout is what bounds it.
func TestUnavailable(t *testing.T) {
	calls := []struct {
		name string
		call func(*Client) error
	}{
		{"authenticate", func(c *Client) error { _, err := c.Authenticate(context.Background(), "alice", "alice-pw"); return err }},
		{"lookup", func(c *Client) error { _, err := c.Lookup(context.Background(), "alice"); return err }},
		{"groups", func(c *Client) error {
			_, err := c.Groups(context.Background(), Entry{DN: "uid=alice," + people})
			return err
		}},
		{"members", func(c *Client) error { _, err := c.Members(context.Background()); return err }},
	}
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
		say  string
	}{
		{"closed port", func(t *testing.T) string { return "ldap://" + closedPort(t) }, "connection refused"},
		{"silent server", func(t *testing.T) string { return "ldap://" + silent(t) }, "binding as the service account"},
		{"silent server, ldaps", func(t *testing.T) string { return "ldaps://" + silent(t) }, "connecting to 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig(t)
			cfg.URL = tc.url(t)
			cfg.Timeout.Duration = 300 * time.Millisecond
			cfg.Default()
			c := newClient(t, cfg)
			for _, call := range calls {
				within(t, func() {
					err := call.call(c)
					if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.say) {
						t.Errorf("%s: %v; want ErrUnavailable saying %q", call.name, err, tc.say)
					}
				})
			}
		})
	}
}

func TestStartTLSSilent(t *testing.T) {
	cfg := validConfig(t)
	cfg.URL, cfg.StartTLS = "ldap://"+silent(t), true
	cfg.Timeout.Duration = 300 * time.Millisecond
	cfg.Default()
	c := newClient(t, cfg)
	within(t, func() {
		if _, err := c.Authenticate(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("got %v", err)
		}
	})
}

// The directory stops while the client holds connections to it: the next
// call finds them dead, tries a new one, and reports the directory gone.
func TestDirectoryStops(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	c := newClient(t, cfg)
	if _, err := c.Authenticate(ctx(t), "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	within(t, func() {
		if _, err := c.Authenticate(ctx(t), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("after slapd stopped: %v", err)
		}
	})
}

// The directory hangs in the middle of the login, on connections already
// open: the call still ends within the timeout, and the hung connections
// are not kept.
func TestDirectoryHangs(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	p := startProxy(t, strings.TrimPrefix(srv.URL, "ldap://"))
	cfg.URL = "ldap://" + p.addr
	cfg.Timeout.Duration = 300 * time.Millisecond
	c := newClient(t, cfg)
	if _, err := c.Authenticate(ctx(t), "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	p.frozen.Store(true)
	within(t, func() {
		if _, err := c.Authenticate(ctx(t), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("hung directory: %v", err)
		}
	})
	p.frozen.Store(false)
	if _, err := c.Authenticate(ctx(t), "alice", "alice-pw"); err != nil {
		t.Errorf("once the directory answers again: %v", err)
	}
}

// A caller's own deadline or cancellation ends the call too.
func TestCallerCancels(t *testing.T) {
	cfg := validConfig(t)
	cfg.URL = "ldap://" + silent(t)
	cfg.Default() // 3 s
	c := newClient(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	within(t, func() {
		if _, err := c.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}
	})
}

func TestClosedClient(t *testing.T) {
	_, cfg := startDirectory(t, slapd.Options{})
	c := newClient(t, cfg)
	if _, err := c.Lookup(ctx(t), "alice"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Lookup(ctx(t), "alice"); !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v", err)
	}
}
