package desk_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/internal/slapd"
	"github.com/keydesk/keydesk/inventory"
)

const (
	vpnUsers = "cn=vpn-users,ou=groups," + slapd.Suffix
	people   = "ou=people," + slapd.Suffix
)

// directoryFixture is a real slapd with the directory package's test tree
// (vpn-users: alice, bob, dave (locked) and the group staff with carol),
// and a client of it.
func directoryFixture(t *testing.T) (*slapd.Server, *directory.Client) {
	t.Helper()
	ldif, err := os.ReadFile("../directory/testdata/openldap.ldif")
	if err != nil {
		t.Fatal(err)
	}
	ldap := slapd.Start(t, slapd.Options{LDIF: string(ldif)})
	pw := filepath.Join(t.TempDir(), "bind.pw")
	os.WriteFile(pw, []byte("service-secret"), 0o600)
	cfg := directory.Config{Kind: directory.OpenLDAP, URL: ldap.URL, BindDN: "cn=keydesk,ou=services," + slapd.Suffix,
		BindPasswordFile: pw, BaseDN: slapd.Suffix, ScopeGroup: vpnUsers, Timeout: directory.Duration{Duration: 2 * time.Second}}
	cfg.Default()
	dir, err := directory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return ldap, dir
}

func TestDirectorySync(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	ldap, dir := directoryFixture(t)
	opts := directory.PlanOptions{MaxDisableShare: 0.5}
	// alice was typed in at the desk before the directory: she is linked,
	// not made twice, and keeps her fob.
	if _, err := fx.d.AddUser(ctx, inventory.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := fx.d.AddFob(ctx, token("F-ALICE"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := fx.d.AssignFob(ctx, "F-ALICE", "alice"); err != nil {
		t.Fatal(err)
	}

	dry, err := fx.d.SyncDirectory(ctx, dir, opts, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Created) != 2 || len(dry.Adopted) != 1 {
		t.Fatalf("dry run: %+v", dry)
	}
	if _, err := fx.s.User(ctx, "bob"); err == nil {
		t.Fatal("a dry run created bob")
	}
	rep, err := fx.d.SyncDirectory(ctx, dir, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	// carol is in staff, inside vpn-users; dave is locked in the
	// directory, so not made.
	if !slices.Equal(rep.Created, []string{"bob", "carol"}) || !slices.Equal(rep.Adopted, []string{"alice"}) {
		t.Fatalf("first sync: %+v", rep)
	}
	if last := fx.audit(t); last[len(last)-1].Action != "directory sync" {
		t.Errorf("no audit entry for the sync: %+v", last[len(last)-1])
	}
	bob, _ := fx.s.User(ctx, "bob")
	if bob.FullName != "Bob Baker" || bob.Email != "bob@example.edu" {
		t.Errorf("bob as made: %+v", bob)
	}

	// alice is renamed in the directory: the same record, fob and all.
	ldap.Rename(t, "uid=alice,"+people, "uid=alicia")
	rep, err = fx.d.SyncDirectory(ctx, dir, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Updated, []string{"alice → alicia"}) || len(rep.Created) != 0 {
		t.Fatalf("after the rename: %+v", rep)
	}
	if f := fx.fob(t, "F-ALICE"); f.User != "alicia" {
		t.Errorf("the renamed user's fob is held by %q", f.User)
	}

	// bob leaves the group: disabled, fobs kept; back in: enabled again.
	ldap.RemoveMember(t, vpnUsers, "uid=bob,"+people)
	rep, err = fx.d.SyncDirectory(ctx, dir, opts, false)
	if err != nil || len(rep.Disabled) != 1 || rep.Disabled[0].User != "bob" || rep.Disabled[0].Reason != string(directory.LeftScope) {
		t.Fatalf("bob left the group: %+v %v", rep, err)
	}
	if u, _ := fx.s.User(ctx, "bob"); !u.Disabled {
		t.Error("bob is still enabled")
	}
	ldap.AddMember(t, vpnUsers, "uid=bob,"+people)
	if rep, err = fx.d.SyncDirectory(ctx, dir, opts, false); err != nil || !slices.Equal(rep.Enabled, []string{"bob"}) {
		t.Fatalf("bob back: %+v %v", rep, err)
	}
	// A user disabled at the desk stays disabled whatever the directory
	// says.
	if err := fx.d.SetUserDisabled(ctx, "carol", true); err != nil {
		t.Fatal(err)
	}
	if rep, err = fx.d.SyncDirectory(ctx, dir, opts, false); err != nil || len(rep.Enabled) != 0 {
		t.Fatalf("carol disabled at the desk: %+v %v", rep, err)
	}

	// The guard: a search that finds nobody (the group emptied by
	// mistake) changes nothing.
	before := len(fx.audit(t))
	ldap.Replace(t, vpnUsers, "member", "cn=keydesk,ou=services,"+slapd.Suffix)
	_, err = fx.d.SyncDirectory(ctx, dir, opts, false)
	if !errors.Is(err, directory.ErrGuard) {
		t.Fatalf("sync against an empty group: %v", err)
	}
	for _, name := range []string{"alicia", "bob"} {
		if u, _ := fx.s.User(ctx, name); u.Disabled {
			t.Errorf("the refused sync disabled %s", name)
		}
	}
	if len(fx.audit(t)) != before {
		t.Error("the refused sync wrote to the audit log")
	}
}
