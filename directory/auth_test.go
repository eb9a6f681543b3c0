package directory

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/keydesk/keydesk/internal/slapd"
)

func TestAuthenticate(t *testing.T) {
	for _, flavour := range []struct {
		name string
		opts slapd.Options
	}{{"openldap", slapd.Options{}}, {"ad", slapd.Options{AD: true}}} {
		t.Run(flavour.name, func(t *testing.T) {
			_, cfg := startDirectory(t, flavour.opts)
			c := newClient(t, cfg)
			for _, tc := range []struct {
				name, user, password string
				want                 error
			}{
				{"right password", "alice", "alice-pw", nil},
				{"name in another case", "ALICE", "alice-pw", nil},
				{"wrong password", "alice", "bob-pw", ErrBadCredentials},
				{"empty password", "alice", "", ErrBadCredentials},
				{"unknown user", "mallory", "guess-9", ErrNoSuchUser},
				{"empty user name", "", "guess-9", ErrNoSuchUser},
				{"filter injection", "*)(" + cfg.Attributes.Username + "=*", "alice-pw", ErrNoSuchUser},
				{"a star for a name", "*", "alice-pw", ErrNoSuchUser},
				{"a name with a NUL", "alice\x00", "alice-pw", ErrNoSuchUser},
				{"disabled in the directory", "dave", "dave-pw", ErrDisabled},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e, err := c.Authenticate(ctx(t), tc.user, tc.password)
					if !errors.Is(err, tc.want) {
						t.Fatalf("got %+v, %v; want %v", e, err, tc.want)
					}
					if err != nil {
						if e.ID != "" || e.DN != "" {
							t.Errorf("an entry came back with the error: %+v", e)
						}
						if tc.password != "" && strings.Contains(err.Error(), tc.password) {
							t.Errorf("the error shows the password: %v", err)
						}
						return
					}
					if e.Username != "alice" || e.FullName != "Alice Archer" || e.Email != "alice@example.edu" || !canonicalUUID.MatchString(e.ID) {
						t.Errorf("entry %+v", e)
					}
				})
			}
		})
	}
}

// dave is locked only by the marker: slapd itself, with no default
// password policy, lets him bind. Only keydesk's reading of the marker
// stops him, so this test fails if the marker is ignored.
func TestDisabledUserCouldBindButIsRefused(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind("uid=dave,"+people, "dave-pw"); err != nil {
		t.Fatalf("slapd refuses dave's bind itself (%v): this test proves nothing", err)
	}
	c := newClient(t, cfg)
	if _, err := c.Authenticate(ctx(t), "dave", "dave-pw"); !errors.Is(err, ErrDisabled) {
		t.Errorf("dave: %v, want ErrDisabled", err)
	}
}

// The empty password is refused before any connection: the client points
// at a closed port and still answers ErrBadCredentials, not ErrUnavailable.
func TestEmptyPasswordNeverBinds(t *testing.T) {
	cfg := validConfig(t)
	cfg.URL = "ldap://" + closedPort(t)
	cfg.Default()
	c := newClient(t, cfg)
	_, err := c.Authenticate(ctx(t), "alice", "")
	if !errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrUnavailable) {
		t.Errorf("empty password: %v", err)
	}
}

func TestAmbiguousName(t *testing.T) {
	_, cfg := startDirectory(t, slapd.Options{})
	c := newClient(t, cfg)
	if _, err := c.Authenticate(ctx(t), "twin", "twin-pw"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("twin: %v, want ErrAmbiguous", err)
	}
	if _, err := c.Lookup(ctx(t), "twin"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("lookup twin: %v, want ErrAmbiguous", err)
	}
}

func TestLookup(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	c := newClient(t, cfg)
	e, err := c.Lookup(ctx(t), "carol")
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{ID: e.ID, DN: "uid=carol," + people, Username: "carol", FullName: "Carol Cruz", Groups: []string{staff}}
	if !equalEntry(e, want) {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
	// The id is slapd's entryUUID, read independently.
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(srv.AdminDN, srv.AdminPassword); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if uuid := res.Entries[0].GetAttributeValue("entryUUID"); uuid != e.ID {
		t.Errorf("id %s, entryUUID %s", e.ID, uuid)
	}
}

// The objectGUID bytes of testdata/ad.ldif, written by hand in the usual
// form: the first three fields turned round, the rest as sent.
func TestLookupADGUID(t *testing.T) {
	_, cfg := startDirectory(t, slapd.Options{AD: true})
	c := newClient(t, cfg)
	for user, want := range map[string]string{
		"alice": "e18c5f2a-d0b7-4e4a-9c1d-3e5f7a9b0c1d", // 2a5f8ce1 b7d0 4a4e 9c1d 3e5f7a9b0c1d
		"bob":   "44332211-6655-8877-99aa-bbccddeeff00", // 11223344 5566 7788 99aa bbccddeeff00
		"carol": "04030201-0605-0807-090a-0b0c0d0e0f10",
		"dave":  "fecabeba-2301-6745-89ab-cdef12345678",
	} {
		e, err := c.Lookup(ctx(t), user)
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != want {
			t.Errorf("%s: id %s, want %s", user, e.ID, want)
		}
		if e.Disabled != (user == "dave") {
			t.Errorf("%s: disabled %v", user, e.Disabled)
		}
	}
}

func TestWrongServicePassword(t *testing.T) {
	_, cfg := startDirectory(t, slapd.Options{})
	if err := writeFile(cfg.BindPasswordFile, "not-the-secret\n"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cfg)
	_, err := c.Authenticate(ctx(t), "alice", "alice-pw")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "refused the password of cn=keydesk") {
		t.Errorf("got %v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("the error shows the service password: %v", err)
	}
}

// Connections are kept: many logins, one after another or 64 at once,
// open no more connections than the pools hold.
func TestConnectionsAreReused(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	p := startProxy(t, strings.TrimPrefix(srv.URL, "ldap://"))
	cfg.URL = "ldap://" + p.addr
	c := newClient(t, cfg)
	for range 50 {
		if _, err := c.Authenticate(ctx(t), "alice", "alice-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.accepted.Load(); n != 2 {
		t.Errorf("50 logins in a row opened %d connections, want 2 (one search, one bind)", n)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			pw := "alice-pw"
			if i%2 == 1 {
				pw = "wrong"
			}
			if _, err := c.Authenticate(ctx(t), "alice", pw); (err == nil) != (i%2 == 0) {
				t.Errorf("login %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n, most := p.accepted.Load(), int64(2*cfg.MaxConnections); n > most {
		t.Errorf("64 logins at once opened %d connections, more than the pools' %d", n, most)
	}
}

func equalEntry(a, b Entry) bool {
	return a.ID == b.ID && a.DN == b.DN && a.Username == b.Username && a.FullName == b.FullName &&
		a.Email == b.Email && a.Disabled == b.Disabled && strings.Join(a.Groups, "|") == strings.Join(b.Groups, "|")
}
