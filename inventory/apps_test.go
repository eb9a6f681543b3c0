package inventory_test

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/inventory"
)

var appKeyShape = regexp.MustCompile(`^kd_app_[a-z2-7]{32}$`)

const testSecret = "a shared secret of some length"

func addApp(t *testing.T, fx *fixture, n inventory.NewApplication) (inventory.Application, string) {
	t.Helper()
	var a inventory.Application
	var key string
	fx.update(t, func(tx *inventory.Tx) (err error) {
		a, key, err = tx.AddApplication(n, "cli:test")
		return err
	})
	return a, key
}

func vpn(name string) inventory.NewApplication {
	return inventory.NewApplication{Name: name, RADIUSSecret: []byte(testSecret),
		RADIUSSources: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/24"), netip.MustParsePrefix("::1/128")}}
}

func TestApplicationKey(t *testing.T) {
	fx := newStore(t)
	a, key := addApp(t, fx, inventory.NewApplication{Name: "wiki"})
	if !appKeyShape.MatchString(key) {
		t.Fatalf("key %q does not have the documented shape", key)
	}
	if a.RADIUS || a.RADIUSSources != nil {
		t.Errorf("an application without a secret is a RADIUS client: %+v", a)
	}
	got, err := fx.s.ApplicationByKey(t.Context(), key)
	if err != nil || got.Name != "wiki" || got.ID != a.ID {
		t.Fatalf("ApplicationByKey = %+v, %v", got, err)
	}
	if filesContain(t, fx.path, []byte(key)) {
		t.Error("the application key is in the database file")
	}
	// The last character changed: to "a", unless it is "a" already.
	last := "a"
	if strings.HasSuffix(key, "a") {
		last = "b"
	}
	for _, bad := range []string{"", key + "a", key[:len(key)-1] + last, "kd_admin_" + key[len("kd_app_"):]} {
		if _, err := fx.s.ApplicationByKey(t.Context(), bad); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("ApplicationByKey(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	fx.update(t, func(tx *inventory.Tx) error { return tx.RemoveApplication(a.ID) })
	if _, err := fx.s.ApplicationByKey(t.Context(), key); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("a removed application's key still works: %v", err)
	}
}

func TestRADIUSSecretSealed(t *testing.T) {
	fx := newStore(t)
	a, _ := addApp(t, fx, vpn("vpn"))
	if !a.RADIUS || len(a.RADIUSSources) != 2 || a.RADIUSSources[0].String() != "10.1.2.0/24" {
		t.Errorf("added %+v; want a RADIUS client with masked prefixes", a)
	}
	if filesContain(t, fx.path, []byte(testSecret)) {
		t.Fatal("the RADIUS secret is in the database file in the clear")
	}
	addApp(t, fx, inventory.NewApplication{Name: "wiki"})
	clients, err := fx.s.RADIUSClients(t.Context())
	if err != nil || len(clients) != 1 {
		t.Fatalf("RADIUSClients = %+v, %v; want the one with a secret", clients, err)
	}
	if c := clients[0]; c.Name != "vpn" || string(c.Secret) != testSecret || len(c.RADIUSSources) != 2 {
		t.Errorf("RADIUSClients[0] = %s %q %v", c.Name, c.Secret, c.RADIUSSources)
	}
	// Reopened with the same key, the secret still opens.
	fx.reopen(t, fx.key)
	if clients, err := fx.s.RADIUSClients(t.Context()); err != nil || string(clients[0].Secret) != testSecret {
		t.Errorf("after reopening: %v", err)
	}
}

// A sealed secret is bound to its row: copied into another application's
// row, it does not open, so a database edit cannot give one client
// another's secret.
func TestRADIUSSecretMovedDoesNotOpen(t *testing.T) {
	fx := newStore(t)
	addApp(t, fx, vpn("vpn-a"))
	b := vpn("vpn-b")
	b.RADIUSSecret = []byte("another secret, also long enough")
	addApp(t, fx, b)
	db := fx.raw(t)
	mustExec(t, db, `UPDATE applications SET radius_secret = (SELECT radius_secret FROM applications WHERE name = 'vpn-a') WHERE name = 'vpn-b'`)
	_, err := fx.s.RADIUSClients(t.Context())
	if err == nil || !strings.Contains(err.Error(), "application/vpn-b/radius_secret") {
		t.Errorf("RADIUSClients after moving a secret = %v, want an error naming the row", err)
	}
}

func TestDisabledApplicationIsNoRADIUSClient(t *testing.T) {
	fx := newStore(t)
	addApp(t, fx, vpn("vpn"))
	mustExec(t, fx.raw(t), `UPDATE applications SET disabled = 1`)
	if clients, err := fx.s.RADIUSClients(t.Context()); err != nil || len(clients) != 0 {
		t.Errorf("RADIUSClients = %v, %v; want none", clients, err)
	}
}

func TestAddApplicationRefuses(t *testing.T) {
	fx := newStore(t)
	addApp(t, fx, inventory.NewApplication{Name: "wiki"})
	short := vpn("vpn")
	short.RADIUSSecret = []byte("short")
	noSources := vpn("vpn")
	noSources.RADIUSSources = nil
	noSecret := vpn("vpn")
	noSecret.RADIUSSecret = nil
	empty := vpn("vpn")
	empty.RADIUSSecret = []byte{}
	long := vpn("vpn")
	long.RADIUSSecret = make([]byte, 129)
	for _, c := range []struct {
		app  inventory.NewApplication
		want string
	}{
		{inventory.NewApplication{Name: "wiki"}, "already exists"},
		{inventory.NewApplication{Name: ""}, "empty application name"},
		{inventory.NewApplication{Name: "a\tb"}, "white space"},
		{short, "too short"},
		{empty, "too short"},
		{long, "too long"},
		{noSources, "no source addresses"},
		{noSecret, "no RADIUS secret"},
	} {
		err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
			_, _, err := tx.AddApplication(c.app, "cli:test")
			return err
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddApplication(%q) = %v, want %q", c.app.Name, err, c.want)
		}
	}
	if apps, err := fx.s.Applications(t.Context()); err != nil || len(apps) != 1 {
		t.Errorf("Applications = %v, %v; a refused add left a row", apps, err)
	}
}

func TestApplicationsList(t *testing.T) {
	fx := newStore(t)
	addApp(t, fx, vpn("vpn"))
	addApp(t, fx, inventory.NewApplication{Name: "portal"})
	apps, err := fx.s.Applications(t.Context())
	if err != nil || len(apps) != 2 || apps[0].Name != "portal" || apps[1].Name != "vpn" || !apps[1].RADIUS {
		t.Errorf("Applications = %+v, %v", apps, err)
	}
	if a, err := fx.s.Application(t.Context(), "vpn"); err != nil || !a.RADIUS {
		t.Errorf("Application(vpn) = %+v, %v", a, err)
	}
	if _, err := fx.s.Application(t.Context(), "nope"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("Application(nope) = %v", err)
	}
}
