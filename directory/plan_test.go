package directory

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func found(id, name string) Entry {
	return Entry{ID: id, DN: "uid=" + name + ",ou=people,dc=example,dc=edu", Username: name, FullName: strings.ToUpper(name)}
}

func held(id, name string) Known {
	return Known{ID: id, Username: name, FullName: strings.ToUpper(name)}
}

func disabled(e Entry) Entry { e.Disabled = true; return e }
func bySync(k Known) Known   { k.Disabled, k.DisabledBySync = true, true; return k }
func byDesk(k Known) Known   { k.Disabled = true; return k }
func renamed(e Entry, to string) Entry {
	e.Username, e.FullName = to, strings.ToUpper(to)
	return e
}

// many is n directory users a0..a(n-1), as held and as found.
func many(n int) ([]Known, []Entry) {
	var ks []Known
	var es []Entry
	for i := range n {
		id, name := fmt.Sprintf("id-%d", i), fmt.Sprintf("a%d", i)
		ks = append(ks, held(id, name))
		es = append(es, found(id, name))
	}
	return ks, es
}

func TestPlanSync(t *testing.T) {
	ten, tenFound := many(10)
	for _, tc := range []struct {
		name    string
		current []Known
		found   []Entry
		opts    PlanOptions
		want    Plan
	}{
		{"nothing changes", []Known{held("1", "alice"), {Username: "desk-typed"}}, []Entry{found("1", "alice")}, PlanOptions{}, Plan{}},
		{"a new user is created", []Known{held("1", "alice")}, []Entry{found("1", "alice"), found("2", "bob")}, PlanOptions{},
			Plan{Create: []Entry{found("2", "bob")}}},
		{"a new disabled user is not created", []Known{held("1", "alice")}, []Entry{found("1", "alice"), disabled(found("2", "bob"))}, PlanOptions{},
			Plan{}},
		{"a rename keeps the record", []Known{held("1", "alice")}, []Entry{renamed(found("1", "alice"), "alicia")}, PlanOptions{},
			Plan{Update: []Update{{Known: held("1", "alice"), Entry: renamed(found("1", "alice"), "alicia")}}}},
		{"a new e-mail is an update", []Known{held("1", "alice")}, []Entry{func() Entry { e := found("1", "alice"); e.Email = "a@example.edu"; return e }()}, PlanOptions{MaxDisableShare: 1},
			Plan{Update: []Update{{Known: held("1", "alice"), Entry: func() Entry { e := found("1", "alice"); e.Email = "a@example.edu"; return e }()}}}},
		{"same name, new id: the old record leaves, the new one conflicts", []Known{held("1", "alice")}, []Entry{found("9", "alice")}, PlanOptions{MaxDisableShare: 1},
			Plan{Disable: []Disable{{Known: held("1", "alice"), Reason: LeftScope}}, Conflicts: []Conflict{{Entry: found("9", "alice"), Holder: held("1", "alice")}}}},
		{"a name typed at the desk is not taken", []Known{held("1", "alice"), {Username: "Bob"}}, []Entry{found("1", "alice"), found("2", "bob")}, PlanOptions{},
			Plan{Conflicts: []Conflict{{Entry: found("2", "bob"), Holder: Known{Username: "Bob"}}}}},
		{"a rename onto a name typed at the desk", []Known{held("1", "alice"), {Username: "bob"}}, []Entry{renamed(found("1", "alice"), "bob")}, PlanOptions{},
			Plan{Conflicts: []Conflict{{Entry: renamed(found("1", "alice"), "bob"), Holder: Known{Username: "bob"}}}}},
		{"two users swap names", []Known{held("1", "alice"), held("2", "bob")}, []Entry{renamed(found("1", "alice"), "bob"), renamed(found("2", "bob"), "alice")}, PlanOptions{},
			Plan{Update: []Update{
				{Known: held("1", "alice"), Entry: renamed(found("1", "alice"), "bob")},
				{Known: held("2", "bob"), Entry: renamed(found("2", "bob"), "alice")},
			}}},
		{"left the group", ten, tenFound[1:], PlanOptions{},
			Plan{Disable: []Disable{{Known: ten[0], Reason: LeftScope}}}},
		{"disabled in the directory", ten, append([]Entry{disabled(tenFound[0])}, tenFound[1:]...), PlanOptions{},
			Plan{Disable: []Disable{{Known: ten[0], Reason: DisabledInDirectory}}}},
		{"back in the group: enabled again", []Known{bySync(held("1", "alice")), held("2", "bob")}, []Entry{found("1", "alice"), found("2", "bob")}, PlanOptions{},
			Plan{Enable: []Update{{Known: bySync(held("1", "alice")), Entry: found("1", "alice")}}}},
		{"disabled at the desk: stays disabled", []Known{byDesk(held("1", "alice")), held("2", "bob")}, []Entry{found("1", "alice"), found("2", "bob")}, PlanOptions{},
			Plan{}},
		{"disabled at the desk and renamed: renamed, still disabled", []Known{byDesk(held("1", "alice"))}, []Entry{renamed(found("1", "alice"), "alicia")}, PlanOptions{},
			Plan{Update: []Update{{Known: byDesk(held("1", "alice")), Entry: renamed(found("1", "alice"), "alicia")}}}},
		{"disabled by the sync and still disabled in the directory", []Known{bySync(held("1", "alice"))}, []Entry{disabled(found("1", "alice"))}, PlanOptions{},
			Plan{}},
		{"already disabled users who leave count for nothing", []Known{bySync(held("1", "alice")), held("2", "bob")}, []Entry{found("2", "bob")}, PlanOptions{},
			Plan{}},
		{"users typed at the desk are never disabled", []Known{{Username: "carol"}, held("2", "bob")}, []Entry{found("2", "bob")}, PlanOptions{},
			Plan{}},
		{"force passes the share", ten, tenFound[5:], PlanOptions{Force: true},
			Plan{Disable: []Disable{{Known: ten[0], Reason: LeftScope}, {Known: ten[1], Reason: LeftScope}, {Known: ten[2], Reason: LeftScope}, {Known: ten[3], Reason: LeftScope}, {Known: ten[4], Reason: LeftScope}}}},
		{"a higher share passes", ten, tenFound[5:], PlanOptions{MaxDisableShare: 0.5},
			Plan{Disable: []Disable{{Known: ten[0], Reason: LeftScope}, {Known: ten[1], Reason: LeftScope}, {Known: ten[2], Reason: LeftScope}, {Known: ten[3], Reason: LeftScope}, {Known: ten[4], Reason: LeftScope}}}},
		{"a first sync creates everyone", nil, tenFound[:2], PlanOptions{}, Plan{Create: tenFound[:2]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanSync(tc.current, tc.found, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if got.Empty() != reflect.DeepEqual(tc.want, Plan{}) {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

func TestPlanSyncGuard(t *testing.T) {
	forty, fortyFound := many(40)
	for _, tc := range []struct {
		name    string
		current []Known
		found   []Entry
		opts    PlanOptions
		say     string
		guard   GuardError
	}{
		{"the directory returned nobody", forty, nil, PlanOptions{},
			"the directory returned 0 users; keydesk holds 40 from it: refusing to disable them all", GuardError{Held: 40, MaxShare: 0.1}},
		{"nobody, even with force", forty, nil, PlanOptions{Force: true},
			"refusing to disable them all", GuardError{Held: 40, MaxShare: 0.1}},
		{"more than a tenth leave", forty, fortyFound[5:], PlanOptions{},
			"the sync would disable 5 of the 40 users keydesk holds from the directory (12%), more than the 10% allowed", GuardError{Found: 35, Held: 40, Disable: 5, MaxShare: 0.1}},
		{"more than a tenth disabled in the directory", forty, append(func() (d []Entry) {
			for _, e := range fortyFound[:5] {
				d = append(d, disabled(e))
			}
			return d
		}(), fortyFound[5:]...), PlanOptions{},
			"would disable 5 of the 40", GuardError{Found: 40, Held: 40, Disable: 5, MaxShare: 0.1}},
		{"a lower share", forty, fortyFound[2:], PlanOptions{MaxDisableShare: 0.04},
			"would disable 2 of the 40 users keydesk holds from the directory (5%), more than the 4% allowed", GuardError{Found: 38, Held: 40, Disable: 2, MaxShare: 0.04}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanSync(tc.current, tc.found, tc.opts)
			var ge *GuardError
			if !errors.Is(err, ErrGuard) || !errors.As(err, &ge) {
				t.Fatalf("got %+v, %v; want the guard", got, err)
			}
			if !reflect.DeepEqual(got, Plan{}) {
				t.Errorf("a plan came back with the guard: %+v", got)
			}
			if *ge != tc.guard || !strings.Contains(err.Error(), tc.say) {
				t.Errorf("guard %+v %q\nwant  %+v %q", *ge, err, tc.guard, tc.say)
			}
		})
	}

	// Exactly the share passes.
	if _, err := PlanSync(forty, fortyFound[4:], PlanOptions{}); err != nil {
		t.Errorf("4 of 40 leaving: %v", err)
	}
	// Nobody held, nobody found: nothing to guard.
	if p, err := PlanSync([]Known{{Username: "typed"}}, nil, PlanOptions{}); err != nil || !p.Empty() {
		t.Errorf("empty directory, no directory users: %+v, %v", p, err)
	}
}

func TestPlanSyncRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		current []Known
		found   []Entry
		opts    PlanOptions
	}{
		{"found id repeated", nil, []Entry{found("1", "a"), found("1", "b")}, PlanOptions{}},
		{"found id empty", nil, []Entry{found("", "a")}, PlanOptions{}},
		{"held id repeated", []Known{held("1", "a"), held("1", "b")}, nil, PlanOptions{}},
		{"held name repeated", []Known{held("1", "a"), {Username: "A"}}, nil, PlanOptions{}},
		{"held name empty", []Known{{}}, nil, PlanOptions{}},
		{"share above 1", nil, nil, PlanOptions{MaxDisableShare: 1.5}},
		{"share negative", nil, nil, PlanOptions{MaxDisableShare: -0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanSync(tc.current, tc.found, tc.opts)
			if err == nil || errors.Is(err, ErrGuard) || !reflect.DeepEqual(p, Plan{}) {
				t.Errorf("got %+v, %v; want an input error and no plan", p, err)
			}
		})
	}
}

func TestUpdateRenamed(t *testing.T) {
	u := Update{Known: held("1", "alice"), Entry: renamed(found("1", "alice"), "alicia")}
	if !u.Renamed() {
		t.Error("alice → alicia is not a rename")
	}
	u.Entry = found("1", "alice")
	if u.Renamed() {
		t.Error("alice → alice is a rename")
	}
}
