package inventory_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/inventory"
)

var tokenShape = regexp.MustCompile(`^kd_admin_[a-z2-7]{32}$`)

func addAdmin(t *testing.T, fx *fixture, name, role string) (inventory.Admin, string) {
	t.Helper()
	var a inventory.Admin
	var token string
	fx.update(t, func(tx *inventory.Tx) (err error) {
		a, token, err = tx.AddAdmin(name, role, "cli:test")
		return err
	})
	return a, token
}

func TestAdminTokenIsShownOnceAndFound(t *testing.T) {
	fx := newStore(t)
	a, token := addAdmin(t, fx, "hd1", "help_desk")
	if !tokenShape.MatchString(token) {
		t.Fatalf("token %q does not have the documented shape", token)
	}
	if a.Name != "hd1" || a.Role != "help_desk" || a.CreatedBy != "cli:test" || a.Disabled {
		t.Errorf("added %+v", a)
	}
	got, err := fx.s.AdminByToken(t.Context(), token)
	if err != nil || got.Name != "hd1" || got.Role != "help_desk" || got.ID != a.ID {
		t.Fatalf("AdminByToken = %+v, %v", got, err)
	}
	// The token is stored only as a keyed hash.
	if filesContain(t, fx.path, []byte(token)) || filesContain(t, fx.path, []byte(token[len(inventory.AdminTokenPrefix):])) {
		t.Error("the admin token is in the database file")
	}
	_, second := addAdmin(t, fx, "hd2", "help_desk")
	if second == token {
		t.Error("two admins got the same token")
	}
}

func TestAdminByTokenRefusesOthers(t *testing.T) {
	fx := newStore(t)
	_, token := addAdmin(t, fx, "owner1", "owner")
	// The last character changed: to "a", unless it is "a" already.
	last := "a"
	if strings.HasSuffix(token, "a") {
		last = "b"
	}
	for _, bad := range []string{
		"", token[:len(token)-1], token + "a", token[:len(token)-1] + last,
		"kd_app_" + token[len("kd_admin_"):], string(make([]byte, 10000)),
	} {
		if a, err := fx.s.AdminByToken(t.Context(), bad); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("AdminByToken(%.20q) = %+v, %v; want ErrNotFound", bad, a, err)
		}
	}
	// The same token means nothing to another inventory: the hash is keyed.
	other := newStore(t)
	if _, err := other.s.AdminByToken(t.Context(), token); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("another inventory accepted the token: %v", err)
	}
}

func TestAddAdminRefuses(t *testing.T) {
	fx := newStore(t)
	addAdmin(t, fx, "ann", "owner")
	for _, c := range []struct{ name, role, want string }{
		{"ann", "admin", "already exists"},
		{"bob", "root", `knows no role "root"`},
		{"bob", "", `knows no role ""`},
		{"", "owner", "empty admin name"},
		{"bob smith", "owner", "white space"},
	} {
		err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
			_, _, err := tx.AddAdmin(c.name, c.role, "cli:test")
			return err
		})
		if err == nil || !regexp.MustCompile(regexp.QuoteMeta(c.want)).MatchString(err.Error()) {
			t.Errorf("AddAdmin(%q, %q) = %v, want %q", c.name, c.role, err, c.want)
		}
	}
	admins, err := fx.s.Admins(t.Context())
	if err != nil || len(admins) != 1 {
		t.Errorf("Admins = %+v, %v; a refused add left a row", admins, err)
	}
}

func TestAdminDisable(t *testing.T) {
	fx := newStore(t)
	a, token := addAdmin(t, fx, "ann", "owner")
	addAdmin(t, fx, "bob", "read_only")
	addAdmin(t, fx, "abe", "owner")
	count := func() int {
		var n int
		fx.update(t, func(tx *inventory.Tx) (err error) { n, err = tx.EnabledAdmins("owner"); return err })
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("EnabledAdmins(owner) = %d, want 2", n)
	}
	fx.update(t, func(tx *inventory.Tx) error { return tx.SetAdminDisabled(a.ID, true) })
	if n := count(); n != 1 {
		t.Errorf("EnabledAdmins(owner) after disabling one = %d, want 1", n)
	}
	got, err := fx.s.AdminByToken(t.Context(), token)
	if err != nil || !got.Disabled {
		t.Errorf("AdminByToken of a disabled admin = %+v, %v; want it, marked disabled", got, err)
	}
	admins, err := fx.s.Admins(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range admins {
		names = append(names, a.Name)
	}
	if len(names) != 3 || names[0] != "abe" || names[1] != "ann" || names[2] != "bob" {
		t.Errorf("Admins = %v, want abe ann bob", names)
	}
	if _, err := fx.s.Admin(t.Context(), "nobody"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("Admin(nobody) = %v", err)
	}
}
