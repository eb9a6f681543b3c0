package directory

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func readerFor(kind Kind) reader {
	c := Config{Kind: kind}
	c.Default()
	return newReader(&c)
}

// attrs builds the attributes of an entry from LDIF-like lines
// ("name: value", or "name:: base64" for binary values), as ldapsearch
// prints them.
func attrs(t testing.TB, ldif string) []*ldap.EntryAttribute {
	got, ok := parseAttrs([]byte(ldif))
	if !ok {
		t.Fatalf("bad test LDIF:\n%s", ldif)
	}
	return got
}

func parseAttrs(ldif []byte) ([]*ldap.EntryAttribute, bool) {
	var out []*ldap.EntryAttribute
	for line := range bytes.Lines(ldif) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, false
		}
		if rest, b64 := bytes.CutPrefix(value, []byte(":")); b64 {
			v, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rest)))
			if err != nil {
				return nil, false
			}
			value = v
		} else {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		var a *ldap.EntryAttribute
		for _, have := range out {
			if have.Name == string(name) {
				a = have
			}
		}
		if a == nil {
			a = &ldap.EntryAttribute{Name: string(name)}
			out = append(out, a)
		}
		a.Values = append(a.Values, string(value))
		a.ByteValues = append(a.ByteValues, value)
	}
	return out, true
}

// guid64 is the base64 of the objectGUID bytes given in hex, as
// ldapsearch prints a binary value.
func guid64(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// The schemaIDGUID of Active Directory's user class, bf967aba-0de6-11d0-
// a285-00aa003049e2 ([MS-ADSC] §2.268), as a domain controller sends it.
const userClassGUID = "ba7a96bfe60dd011a28500aa003049e2"

const (
	openldapAlice = `uid: alice
cn: Alice Archer
cn: Alice
mail: alice@example.edu
entryUUID: A165CE9A-81AE-1041-9024-83393DC705FB
memberOf: cn=vpn-users,ou=groups,dc=example,dc=edu
memberOf: cn=staff,ou=groups,dc=example,dc=edu
`
	adBob = `sAMAccountName: bob
displayName: Bob Baker
mail: bob@example.edu
userAccountControl: 512
memberOf: CN=VPN Users,OU=Groups,DC=example,DC=edu
`
)

func TestDecodeEntry(t *testing.T) {
	const dn = "uid=alice,ou=people,dc=example,dc=edu"
	for _, tc := range []struct {
		name string
		kind Kind
		ldif string
		want Entry
	}{
		{"openldap", OpenLDAP, openldapAlice, Entry{
			ID: "a165ce9a-81ae-1041-9024-83393dc705fb", DN: dn, Username: "alice", FullName: "Alice Archer",
			Email: "alice@example.edu", Groups: []string{"cn=vpn-users,ou=groups,dc=example,dc=edu", "cn=staff,ou=groups,dc=example,dc=edu"},
		}},
		{"openldap locked by an administrator", OpenLDAP, "uid: alice\nentryUUID: a165ce9a-81ae-1041-9024-83393dc705fb\npwdAccountLockedTime: 000001010000Z\n",
			Entry{ID: "a165ce9a-81ae-1041-9024-83393dc705fb", DN: dn, Username: "alice", Disabled: true}},
		{"openldap locked out after failed passwords", OpenLDAP, "uid: alice\nentryUUID: a165ce9a-81ae-1041-9024-83393dc705fb\npwdAccountLockedTime: 20260301101500Z\n",
			Entry{ID: "a165ce9a-81ae-1041-9024-83393dc705fb", DN: dn, Username: "alice"}},
		{"attribute names without case", OpenLDAP, "UID: alice\nentryuuid: a165ce9a-81ae-1041-9024-83393dc705fb\nMAIL: a@example.edu\n",
			Entry{ID: "a165ce9a-81ae-1041-9024-83393dc705fb", DN: dn, Username: "alice", Email: "a@example.edu"}},
		{"ad", ActiveDirectory, adBob + "objectGUID:: " + guid64(userClassGUID) + "\n", Entry{
			ID: "bf967aba-0de6-11d0-a285-00aa003049e2", DN: dn, Username: "bob", FullName: "Bob Baker",
			Email: "bob@example.edu", Groups: []string{"CN=VPN Users,OU=Groups,DC=example,DC=edu"},
		}},
		{"ad mixed-endian fields", ActiveDirectory, "sAMAccountName: bob\nuserAccountControl: 512\nobjectGUID:: " + guid64("33221100554477668899aabbccddeeff") + "\n",
			Entry{ID: "00112233-4455-6677-8899-aabbccddeeff", DN: dn, Username: "bob"}},
		{"ad disabled 514", ActiveDirectory, "sAMAccountName: bob\nuserAccountControl: 514\nobjectGUID:: " + guid64(userClassGUID) + "\n",
			Entry{ID: "bf967aba-0de6-11d0-a285-00aa003049e2", DN: dn, Username: "bob", Disabled: true}},
		{"ad disabled, password never expires 66050", ActiveDirectory, "sAMAccountName: bob\nuserAccountControl: 66050\nobjectGUID:: " + guid64(userClassGUID) + "\n",
			Entry{ID: "bf967aba-0de6-11d0-a285-00aa003049e2", DN: dn, Username: "bob", Disabled: true}},
		{"ad enabled, password never expires 66048", ActiveDirectory, "sAMAccountName: bob\nuserAccountControl: 66048\nobjectGUID:: " + guid64(userClassGUID) + "\n",
			Entry{ID: "bf967aba-0de6-11d0-a285-00aa003049e2", DN: dn, Username: "bob"}},
		{"ad flag word written negative", ActiveDirectory, "sAMAccountName: bob\nuserAccountControl: -2147483646\nobjectGUID:: " + guid64(userClassGUID) + "\n",
			Entry{ID: "bf967aba-0de6-11d0-a285-00aa003049e2", DN: dn, Username: "bob", Disabled: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readerFor(tc.kind).decode(dn, attrs(t, tc.ldif))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	const uuid = "entryUUID: a165ce9a-81ae-1041-9024-83393dc705fb\n"
	guid := "objectGUID:: " + guid64(userClassGUID) + "\n"
	for _, tc := range []struct {
		name, dn string
		kind     Kind
		ldif     string
		attr     string // named in the error
		say      string // in the error
	}{
		{"no DN", "", OpenLDAP, "uid: a\n" + uuid, "", "empty DN"},
		{"no id", "uid=a", OpenLDAP, "uid: a\n", "entryUUID", "0 values"},
		{"two ids", "uid=a", OpenLDAP, "uid: a\n" + uuid + uuid, "entryUUID", "2 values"},
		{"uuid too short", "uid=a", OpenLDAP, "uid: a\nentryUUID: a165ce9a-81ae-1041-9024\n", "entryUUID", "36-character"},
		{"uuid not hex", "uid=a", OpenLDAP, "uid: a\nentryUUID: g165ce9a-81ae-1041-9024-83393dc705fb\n", "entryUUID", "character 1"},
		{"uuid dash misplaced", "uid=a", OpenLDAP, "uid: a\nentryUUID: a165ce9a081ae-1041-9024-83393dc705fb\n", "entryUUID", "character 9"},
		{"guid of 15 bytes", "cn=b", ActiveDirectory, "sAMAccountName: b\nuserAccountControl: 512\nobjectGUID:: " + guid64(userClassGUID[:30]) + "\n", "objectGUID", "15 bytes"},
		{"guid of 17 bytes", "cn=b", ActiveDirectory, "sAMAccountName: b\nuserAccountControl: 512\nobjectGUID:: " + guid64(userClassGUID+"00") + "\n", "objectGUID", "17 bytes"},
		{"no name", "uid=a", OpenLDAP, uuid, "uid", "0 values"},
		{"two names", "uid=a", OpenLDAP, "uid: a\nuid: b\n" + uuid, "uid", "2 values"},
		{"empty name", "uid=a", OpenLDAP, "uid: \n" + uuid, "uid", "empty"},
		{"name with a control character", "uid=a", OpenLDAP, "uid:: " + base64.StdEncoding.EncodeToString([]byte("al\x1b[2Jice")) + "\n" + uuid, "uid", "control character"},
		{"name not UTF-8", "uid=a", OpenLDAP, "uid:: " + base64.StdEncoding.EncodeToString([]byte("al\xffice")) + "\n" + uuid, "uid", "not UTF-8"},
		{"name too long", "uid=a", OpenLDAP, "uid: " + strings.Repeat("a", maxUsername+1) + "\n" + uuid, "uid", "more than 256"},
		{"full name with a newline", "uid=a", OpenLDAP, "uid: a\ncn:: " + base64.StdEncoding.EncodeToString([]byte("A\nB")) + "\n" + uuid, "cn", "control character"},
		{"no flag word", "cn=b", ActiveDirectory, "sAMAccountName: b\n" + guid, "userAccountControl", "may the service account read it"},
		{"flag word not a number", "cn=b", ActiveDirectory, "sAMAccountName: b\nuserAccountControl: 0x202\n" + guid, "userAccountControl", "not a 32-bit integer"},
		{"flag word too big", "cn=b", ActiveDirectory, "sAMAccountName: b\nuserAccountControl: 4294967296\n" + guid, "userAccountControl", "not a 32-bit integer"},
		{"memberOf empty", "uid=a", OpenLDAP, "uid: a\n" + uuid + "memberOf: \n", "memberOf", "value 1: empty DN"},
		{"memberOf in ranges", "uid=a", OpenLDAP, "uid: a\n" + uuid + "memberOf;range=0-1499: cn=g\n", "memberOf;range=0-1499", "ranges"},
		{"memberOf too many", "uid=a", OpenLDAP, "uid: a\n" + uuid + strings.Repeat("memberOf: cn=g\n", maxGroups+1), "memberOf", "more than 10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readerFor(tc.kind).decode(tc.dn, attrs(t, tc.ldif))
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("got %+v, %v; want an *EntryError", got, err)
			}
			if !reflect.DeepEqual(got, Entry{}) {
				t.Errorf("a part of the entry came back with the error: %+v", got)
			}
			if ee.Attribute != tc.attr || !strings.Contains(err.Error(), tc.say) || !strings.Contains(err.Error(), tc.dn) {
				t.Errorf("error %q: want attribute %q, the DN and %q", err, tc.attr, tc.say)
			}
		})
	}
}

func TestDisabledMarkers(t *testing.T) {
	const base = "uid: a\nentryUUID: a165ce9a-81ae-1041-9024-83393dc705fb\n"
	for _, tc := range []struct {
		marker *DisabledMarker
		ldif   string
		want   bool
	}{
		{&DisabledMarker{Attribute: "employeeType", Value: "disabled"}, "employeeType: staff\nemployeeType: Disabled\n", true},
		{&DisabledMarker{Attribute: "employeeType", Value: "disabled"}, "employeeType: staff\n", false},
		{&DisabledMarker{Attribute: "employeeType", Value: "disabled"}, "", false},
		{&DisabledMarker{Attribute: "nsAccountLock"}, "nsAccountLock: TRUE\n", true},
		{&DisabledMarker{Attribute: "nsAccountLock"}, "", false},
		{&DisabledMarker{}, "pwdAccountLockedTime: 000001010000Z\n", false},
	} {
		c := Config{Kind: OpenLDAP, Disabled: tc.marker}
		c.Default()
		got, err := newReader(&c).decode("uid=a", attrs(t, base+tc.ldif))
		if err != nil || got.Disabled != tc.want {
			t.Errorf("marker %+v on %q: disabled %v, %v; want %v", tc.marker, tc.ldif, got.Disabled, err, tc.want)
		}
	}
}

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// FuzzDecodeEntry feeds the entry reader what a hostile or broken
// directory could send: it must return a whole, checked Entry or nothing.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(false, "uid=alice,ou=people,dc=example,dc=edu", []byte(openldapAlice))
	f.Add(false, "uid=alice,ou=people,dc=example,dc=edu", []byte("uid: alice\nentryUUID: a165ce9a-81ae-1041-9024-83393dc705fb\npwdAccountLockedTime: 000001010000Z\n"))
	f.Add(true, "CN=Bob Baker,OU=People,DC=example,DC=edu", []byte(adBob+"objectGUID:: "+guid64(userClassGUID)+"\n"))
	f.Add(true, "CN=Bob Baker,OU=People,DC=example,DC=edu", []byte("sAMAccountName: bob\nuserAccountControl: -2147483646\nobjectGUID:: "+guid64(userClassGUID)+"\n"))
	f.Add(true, "CN=x", []byte("sAMAccountName: x\nuserAccountControl: 66050\nobjectGUID:: AAAAAAAAAAAAAAAAAAAAAA==\nmemberOf;range=0-1: cn=g\n"))
	f.Fuzz(func(t *testing.T, ad bool, dn string, ldif []byte) {
		as, ok := parseAttrs(ldif)
		if !ok {
			return
		}
		kind := OpenLDAP
		if ad {
			kind = ActiveDirectory
		}
		r := readerFor(kind)
		e, err := r.decode(dn, as)
		if err != nil {
			if !reflect.DeepEqual(e, Entry{}) {
				t.Fatalf("partial entry with error %v: %+v", err, e)
			}
			return
		}
		if !canonicalUUID.MatchString(e.ID) {
			t.Fatalf("id %q is not a canonical UUID", e.ID)
		}
		if ad {
			raw := values(as, "objectGUID")[0]
			if back := guidBytes(t, e.ID); !bytes.Equal(back, raw) {
				t.Fatalf("guid %x read as %s, which is %x", raw, e.ID, back)
			}
		}
		if e.DN != dn || e.Username == "" || len(e.Username) > maxUsername || len(e.Groups) > maxGroups {
			t.Fatalf("entry out of bounds: %+v", e)
		}
	})
}

// guidBytes writes a GUID's text back in Active Directory's byte order.
func guidBytes(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

func TestTextID(t *testing.T) {
	c := Config{Kind: OpenLDAP, Attributes: Attributes{ID: "employeeNumber", IDFormat: Text}}
	c.Default()
	r := newReader(&c)
	e, err := r.decode("uid=a", attrs(t, "uid: a\nemployeeNumber: E-1042\n"))
	if err != nil || e.ID != "E-1042" {
		t.Errorf("got %+v, %v", e, err)
	}
	for _, ldif := range []string{"uid: a\n", "uid: a\nemployeeNumber: \n", "uid: a\nemployeeNumber: " + strings.Repeat("9", maxTextID+1) + "\n"} {
		if e, err := r.decode("uid=a", attrs(t, ldif)); err == nil {
			t.Errorf("%q: took id %q", ldif, e.ID)
		}
	}
}
