package directory

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/internal/slapd"
)

// setups are the directories and nestings keydesk is tested on, and what
// each can see: nested says carol, in staff inside vpn-users, counts.
var setups = []struct {
	name    string
	opts    slapd.Options
	nesting Nesting
	nested  bool
}{
	{"openldap walk", slapd.Options{}, Walk, true},
	{"openldap memberof overlay, member_of", slapd.Options{}, MemberOf, false},
	{"openldap dynlist, member_of", slapd.Options{Dynlist: true}, MemberOf, true},
	{"ad walk", slapd.Options{AD: true}, Walk, true},
	{"ad memberof overlay, member_of", slapd.Options{AD: true}, MemberOf, false},
}

func usernames(es []Entry) []string {
	var names []string
	for _, e := range es {
		name := e.Username
		if e.Disabled {
			name += " (disabled)"
		}
		names = append(names, name)
	}
	return names
}

func TestMembers(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			_, cfg := startDirectory(t, s.opts)
			cfg.Nesting = s.nesting
			c := newClient(t, cfg)
			got, err := c.Members(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			// Not erin (in no group), not the service account (not a
			// user), not uid=gone (a member that does not exist).
			want := []string{"alice", "bob", "carol", "dave (disabled)"}
			if !s.nested {
				want = []string{"alice", "bob", "dave (disabled)"}
			}
			if names := usernames(got); !slices.Equal(names, want) {
				t.Errorf("members %q, want %q", names, want)
			}
			for _, e := range got {
				if !canonicalUUID.MatchString(e.ID) || e.DN == "" {
					t.Errorf("member %+v", e)
				}
			}
		})
	}
}

func TestGroups(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			_, cfg := startDirectory(t, s.opts)
			cfg.Nesting = s.nesting
			c := newClient(t, cfg)
			vpn, st := vpnUsers, staff
			if s.opts.AD {
				vpn, st = adVPN, adStaff
			}
			carolWant := []string{st, vpn}
			if !s.nested {
				carolWant = []string{st}
			}
			for user, want := range map[string][]string{
				"alice": {vpn},
				"carol": carolWant,
				"erin":  nil,
			} {
				if s.opts.AD && user == "erin" {
					continue
				}
				e, err := c.Lookup(ctx(t), user)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.Groups(ctx(t), e)
				if err != nil {
					t.Fatal(err)
				}
				if !equalDNs(got, want) {
					t.Errorf("%s: groups %q, want %q", user, got, want)
				}
			}
		})
	}
}

func equalDNs(a, b []string) bool {
	return slices.EqualFunc(sortedDNs(a), sortedDNs(b), func(x, y string) bool { return dnKey(x) == dnKey(y) })
}

// A group that holds itself through another does not loop the walk.
func TestGroupCycle(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	srv.AddMember(t, staff, vpnUsers)
	c := newClient(t, cfg)
	members, err := c.Members(ctx(t))
	if err != nil || len(members) != 4 {
		t.Fatalf("members %q, %v", usernames(members), err)
	}
	e, err := c.Lookup(ctx(t), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Groups(ctx(t), e); err != nil || !equalDNs(got, []string{staff, vpnUsers}) {
		t.Errorf("carol's groups %q, %v", got, err)
	}
}

func TestMembersNeedsTheScopeGroup(t *testing.T) {
	_, cfg := startDirectory(t, slapd.Options{})
	for _, nesting := range []Nesting{Walk, MemberOf} {
		for _, scope := range []string{"cn=vpn-userz,ou=groups," + slapd.Suffix, "uid=alice," + people} {
			cfg.Nesting, cfg.ScopeGroup = nesting, scope
			c := newClient(t, cfg)
			if _, err := c.Members(ctx(t)); err == nil || !strings.Contains(err.Error(), "scope group "+scope+" not found") {
				t.Errorf("%s, scope %s: %v", nesting, scope, err)
			}
		}
	}
	cfg.ScopeGroup = ""
	c := newClient(t, cfg)
	if _, err := c.Members(ctx(t)); err == nil || !strings.Contains(err.Error(), "no scope_group") {
		t.Errorf("no scope group: %v", err)
	}
}

// slapd does not know Active Directory's in-chain rule: a filter with it
// matches nothing, silently. A sync that trusted it would disable
// everyone; the guard refuses.
func TestInChainOnSlapdMatchesNobody(t *testing.T) {
	_, cfg := startDirectory(t, slapd.Options{AD: true})
	cfg.Nesting = InChain
	c := newClient(t, cfg)
	members, err := c.Members(ctx(t))
	if err != nil || len(members) != 0 {
		t.Fatalf("slapd answered the in-chain rule (%q, %v): nesting in_chain could be tested here", usernames(members), err)
	}
	_, err = PlanSync([]Known{held("e18c5f2a-d0b7-4e4a-9c1d-3e5f7a9b0c1d", "alice")}, members, PlanOptions{Force: true})
	if !errors.Is(err, ErrGuard) {
		t.Errorf("plan on an empty answer: %v", err)
	}
}

// known is what keydesk would hold after applying a first sync.
func known(es []Entry) []Known {
	var ks []Known
	for _, e := range es {
		ks = append(ks, Known{ID: e.ID, Username: e.Username, FullName: e.FullName, Email: e.Email, Disabled: e.Disabled, DisabledBySync: e.Disabled})
	}
	return ks
}

// The directory changes under keydesk: a rename, a user leaving the group
// and coming back, a user disabled. Each sync plan says what a help desk
// expects.
func TestSyncFollowsTheDirectory(t *testing.T) {
	srv, cfg := startDirectory(t, slapd.Options{})
	c := newClient(t, cfg)
	plan := func(current []Known) Plan {
		t.Helper()
		found, err := c.Members(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		p, err := PlanSync(current, found, PlanOptions{MaxDisableShare: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, err := c.Members(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	current := known(first)
	alice := current[0]

	// A rename keeps the immutable id: an update, not a new user.
	newDN := srv.Rename(t, "uid=alice,"+people, "uid=alicia")
	if _, err := c.Lookup(ctx(t), "alice"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("alice after the rename: %v", err)
	}
	e, err := c.Lookup(ctx(t), "alicia")
	if err != nil || e.ID != alice.ID || e.DN != newDN {
		t.Fatalf("alicia: %+v, %v; want id %s", e, err, alice.ID)
	}
	if _, err := c.Authenticate(ctx(t), "alicia", "alice-pw"); err != nil {
		t.Errorf("alicia's login: %v", err)
	}
	p := plan(current)
	if len(p.Update) != 1 || !p.Update[0].Renamed() || p.Update[0].Known.ID != alice.ID || len(p.Create)+len(p.Disable) != 0 {
		t.Errorf("plan after the rename: %+v", p)
	}

	// bob leaves the group: disabled by the sync.
	srv.RemoveMember(t, vpnUsers, "uid=bob,"+people)
	p = plan(current)
	if len(p.Disable) != 1 || p.Disable[0].Known.Username != "bob" || p.Disable[0].Reason != LeftScope {
		t.Errorf("plan after bob left: %+v", p)
	}
	bob := current[1]
	current[1].Disabled, current[1].DisabledBySync = true, true

	// bob comes back: enabled again.
	srv.AddMember(t, vpnUsers, "uid=bob,"+people)
	p = plan(current)
	if len(p.Enable) != 1 || p.Enable[0].Known.ID != bob.ID {
		t.Errorf("plan after bob came back: %+v", p)
	}

	// carol is locked by an administrator: disabled, and her logins refused.
	srv.Replace(t, "uid=carol,"+people, "pwdAccountLockedTime", "000001010000Z")
	if _, err := c.Authenticate(ctx(t), "carol", "carol-pw"); !errors.Is(err, ErrDisabled) {
		t.Errorf("carol's login once locked: %v", err)
	}
	p = plan(current)
	var reasons []string
	for _, d := range p.Disable {
		reasons = append(reasons, d.Known.Username+": "+string(d.Reason))
	}
	if !slices.Equal(reasons, []string{"carol: disabled in the directory"}) {
		t.Errorf("disables after carol was locked: %q", reasons)
	}
}
