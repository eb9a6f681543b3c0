package slapd

import (
	"os/exec"
	"strings"
	"testing"
)

const tree = `dn: dc=example,dc=edu
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: uid=alice,dc=example,dc=edu
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
userPassword: alice-pw

dn: cn=inner,dc=example,dc=edu
objectClass: groupOfNames
cn: inner
member: uid=alice,dc=example,dc=edu
member: cn=placeholder,dc=example,dc=edu

dn: cn=outer,dc=example,dc=edu
objectClass: groupOfNames
cn: outer
member: cn=inner,dc=example,dc=edu
`

// memberOf shows what each overlay computes: the memberof overlay the
// direct groups, dynlist the nested ones too.
func TestMemberOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"memberof", Options{LDIF: tree}, []string{"cn=inner"}},
		{"dynlist", Options{LDIF: tree, Dynlist: true}, []string{"cn=inner", "cn=outer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opts)
			out := s.search(t, "(uid=alice)", "memberOf")
			for _, g := range tc.want {
				if !strings.Contains(out, "memberOf: "+g+",") {
					t.Errorf("alice's memberOf lacks %s:\n%s", g, out)
				}
			}
			if n := strings.Count(out, "memberOf:"); n != len(tc.want) {
				t.Errorf("alice has %d memberOf values, want %d:\n%s", n, len(tc.want), out)
			}
		})
	}
}

func TestRenameKeepsMembership(t *testing.T) {
	s := Start(t, Options{LDIF: tree})
	dn := s.Rename(t, "uid=alice,dc=example,dc=edu", "uid=alicia")
	if dn != "uid=alicia,dc=example,dc=edu" {
		t.Fatalf("new DN %q", dn)
	}
	if out := s.search(t, "(cn=inner)", "member"); !strings.Contains(out, "member: uid=alicia,") {
		t.Errorf("refint did not follow the rename:\n%s", out)
	}
	s.RemoveMember(t, "cn=inner,dc=example,dc=edu", dn)
	if out := s.search(t, "(uid=alicia)", "memberOf"); strings.Contains(out, "memberOf") {
		t.Errorf("memberOf left after removal:\n%s", out)
	}
}

func TestAnonymousCannotSearch(t *testing.T) {
	s := Start(t, Options{LDIF: tree})
	out, err := exec.Command("ldapsearch", "-LLL", "-x", "-H", s.URL, "-b", Suffix, "(uid=alice)").CombinedOutput()
	if err == nil || strings.Contains(string(out), "uid=alice") {
		t.Errorf("anonymous search: err %v, out:\n%s", err, out)
	}
}

func TestStop(t *testing.T) {
	s := Start(t, Options{LDIF: tree})
	s.Stop(t)
	s.Stop(t)
	if out, err := exec.Command("ldapsearch", "-x", "-H", s.URL, "-b", Suffix).CombinedOutput(); err == nil {
		t.Errorf("slapd still answers after Stop:\n%s", out)
	}
}

func (s *Server) search(t *testing.T, filter string, attrs ...string) string {
	t.Helper()
	args := append([]string{"-LLL", "-o", "ldif-wrap=no", "-x", "-H", s.URL, "-D", s.AdminDN, "-y", s.pwFile, "-b", Suffix, filter}, attrs...)
	out, err := exec.Command("ldapsearch", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	return string(out)
}
