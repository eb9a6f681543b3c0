package directory

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Entry is a user as the directory describes it.
type Entry struct {
	// ID is the immutable id: a lower-case UUID for the guid and uuid
	// formats. A rename keeps it; keydesk matches users by it.
	ID       string
	DN       string
	Username string
	FullName string
	Email    string
	// Disabled is the directory's disabled marker, as configured.
	Disabled bool
	// Groups are the DNs in the user's memberOf attribute as the server
	// gives it: direct groups, or nested too if the server computes them.
	// [Client.Groups] finds them all.
	Groups []string
}

// Bounds on what a directory may send for one user: past them the entry is
// refused rather than cut.
const (
	maxDN       = 2048
	maxUsername = 256
	maxFullName = 1024
	maxEmail    = 512
	maxTextID   = 256
	maxGroups   = 10000
)

// reader turns the attributes of a user entry into an Entry.
type reader struct {
	attrs    Attributes
	disabled DisabledMarker
}

func newReader(c *Config) reader {
	r := reader{attrs: c.Attributes}
	if c.Disabled != nil {
		r.disabled = *c.Disabled
	}
	return r
}

// requested are the attributes a user search asks for.
func (r reader) requested() []string {
	names := []string{r.attrs.Username, r.attrs.FullName, r.attrs.Email, r.attrs.ID, r.attrs.MemberOf}
	if r.disabled.Attribute != "" {
		names = append(names, r.disabled.Attribute)
	}
	return names
}

// decode reads one user entry. It returns a whole Entry or an
// *EntryError, never part of one.
func (r reader) decode(dn string, attrs []*ldap.EntryAttribute) (Entry, error) {
	fail := func(attr string, err error) (Entry, error) {
		return Entry{}, &EntryError{DN: truncate(dn), Attribute: attr, Err: err}
	}
	if err := checkDN(dn); err != nil {
		return fail("", err)
	}
	for _, a := range attrs {
		// Active Directory sends a long attribute in ranges
		// ("member;range=0-1499") that a search must ask for one by one.
		if strings.Contains(a.Name, ";range=") {
			return fail(a.Name, errors.New("sent in ranges: too many values"))
		}
	}
	e := Entry{DN: dn}
	var err error
	a := r.attrs
	if e.ID, err = r.id(values(attrs, a.ID)); err != nil {
		return fail(a.ID, err)
	}
	if e.Username, err = text(values(attrs, a.Username), true, maxUsername); err != nil {
		return fail(a.Username, err)
	}
	if e.FullName, err = text(values(attrs, a.FullName), false, maxFullName); err != nil {
		return fail(a.FullName, err)
	}
	if e.Email, err = text(values(attrs, a.Email), false, maxEmail); err != nil {
		return fail(a.Email, err)
	}
	if e.Disabled, err = r.isDisabled(values(attrs, r.disabled.Attribute)); err != nil {
		return fail(r.disabled.Attribute, err)
	}
	groups := values(attrs, a.MemberOf)
	if len(groups) > maxGroups {
		return fail(a.MemberOf, fmt.Errorf("%d values, more than %d", len(groups), maxGroups))
	}
	for i, g := range groups {
		if err := checkDN(string(g)); err != nil {
			return fail(a.MemberOf, fmt.Errorf("value %d: %w", i+1, err))
		}
		e.Groups = append(e.Groups, string(g))
	}
	return e, nil
}

// values are the raw values of the attribute name; names compare without
// case (RFC 4512 §2.5).
func values(attrs []*ldap.EntryAttribute, name string) [][]byte {
	if name == "" {
		return nil
	}
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a.ByteValues
		}
	}
	return nil
}

func (r reader) id(vs [][]byte) (string, error) {
	if len(vs) != 1 {
		return "", fmt.Errorf("%d values, want 1", len(vs))
	}
	switch r.attrs.IDFormat {
	case GUID:
		return decodeGUID(vs[0])
	case UUID:
		return decodeUUID(string(vs[0]))
	default:
		return text(vs, true, maxTextID)
	}
}

// decodeGUID writes Active Directory's binary objectGUID in the usual text
// form. The first three fields (Data1, Data2, Data3) are little-endian on
// the wire, the last eight bytes in order ([MS-DTYP] §2.3.4.2).
func decodeGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("%d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:16]), nil
}

// decodeUUID checks the text form of RFC 4122 §3 (which entryUUID uses,
// RFC 4530 §2.1) and returns it in lower case.
func decodeUUID(s string) (string, error) {
	if len(s) != 36 {
		return "", fmt.Errorf("%d characters, want a 36-character UUID", len(s))
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", fmt.Errorf("character %d: %q, want '-'", i+1, c)
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", fmt.Errorf("character %d: %q is not hexadecimal", i+1, c)
		}
	}
	return strings.ToLower(s), nil
}

// text is the first value of a text attribute: UTF-8 (RFC 4517 §3.3.6),
// no control characters (it reaches logs and terminals), at most max bytes.
// A required attribute must have exactly one value.
func text(vs [][]byte, required bool, max int) (string, error) {
	switch {
	case required && len(vs) != 1:
		return "", fmt.Errorf("%d values, want 1", len(vs))
	case len(vs) == 0:
		return "", nil
	}
	v := vs[0]
	switch {
	case required && len(v) == 0:
		return "", errors.New("empty")
	case len(v) > max:
		return "", fmt.Errorf("%d bytes, more than %d", len(v), max)
	case !utf8.Valid(v):
		return "", errors.New("not UTF-8")
	}
	for i, c := range string(v) {
		if unicode.IsControl(c) {
			return "", fmt.Errorf("byte %d: control character %U", i+1, c)
		}
	}
	return string(v), nil
}

func (r reader) isDisabled(vs [][]byte) (bool, error) {
	m := r.disabled
	switch {
	case m.Attribute == "":
		return false, nil
	case m.Bit != 0:
		// A flag word that the service account cannot read would make
		// everyone look enabled: its absence is an error.
		if len(vs) != 1 {
			return false, fmt.Errorf("%d values, want 1 (may the service account read it?)", len(vs))
		}
		flags, err := parseFlags(string(vs[0]))
		if err != nil {
			return false, err
		}
		return flags&m.Bit != 0, nil
	case m.Value != "":
		for _, v := range vs {
			if strings.EqualFold(string(v), m.Value) {
				return true, nil
			}
		}
		return false, nil
	default:
		return len(vs) > 0, nil
	}
}

// parseFlags reads a 32-bit flag word such as userAccountControl. LDAP
// integers are signed decimal (RFC 4517 §3.3.16), and Active Directory
// writes a word with the top bit set as a negative number.
func parseFlags(s string) (uint32, error) {
	if len(s) > 11 {
		return 0, fmt.Errorf("%q is not a 32-bit integer", truncate(s))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1<<31 || n > 1<<32-1 {
		return 0, fmt.Errorf("%q is not a 32-bit integer", s)
	}
	return uint32(n), nil
}

func checkDN(dn string) error {
	switch {
	case dn == "":
		return errors.New("empty DN")
	case len(dn) > maxDN:
		return fmt.Errorf("DN of %d bytes, more than %d", len(dn), maxDN)
	case !utf8.ValidString(dn):
		return errors.New("DN not UTF-8")
	case strings.ContainsRune(dn, 0):
		return errors.New("DN holds a NUL byte")
	}
	return nil
}

// truncate keeps error messages short when the directory sends a long
// value.
func truncate(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:80] + "..."
}
