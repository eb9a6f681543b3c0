package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Kind names the directory's family; it chooses the defaults.
type Kind string

const (
	ActiveDirectory Kind = "ad"
	OpenLDAP        Kind = "openldap"
)

// FailMode says what a login does when the directory cannot answer
// ([ErrUnavailable]). The caller applies it; this package only carries it.
type FailMode string

const (
	// FailSecure refuses the login.
	FailSecure FailMode = "secure"
	// FailSafe lets the second factor alone decide.
	FailSafe FailMode = "safe"
)

// Nesting says how group membership is found.
type Nesting string

const (
	// InChain asks Active Directory for the transitive closure with the
	// LDAP_MATCHING_RULE_IN_CHAIN rule (1.2.840.113556.1.4.1941). OpenLDAP
	// does not know the rule and matches nothing, so it is refused there.
	InChain Nesting = "in_chain"
	// MemberOf trusts the users' memberOf attribute: nested groups count
	// only if the server computes them (OpenLDAP's dynlist overlay with
	// "memberOf@groupOfNames*" does; the memberof overlay stores direct
	// groups only).
	MemberOf Nesting = "member_of"
	// Walk follows the groups' member attribute from the client, nested
	// groups included, on any server that has the entryDN attribute
	// (RFC 5020): OpenLDAP, 389-ds. One search per level of nesting.
	Walk Nesting = "walk"
)

// IDFormat says how the immutable id attribute is written.
type IDFormat string

const (
	// GUID is Active Directory's objectGUID: 16 raw bytes, the first three
	// fields little-endian ([MS-DTYP] §2.3.4.2).
	GUID IDFormat = "guid"
	// UUID is a UUID in its text form (entryUUID, RFC 4530 §2.1).
	UUID IDFormat = "uuid"
	// Text is any other opaque, printable id (nsUniqueId, employeeNumber).
	Text IDFormat = "text"
)

// Config says where the directory is and how keydesk reads it. Load it
// from JSON, call [Config.Default], then [Config.Validate]. Fields left
// empty take the default of the Kind, given in each comment.
type Config struct {
	// Kind is "ad" or "openldap". Required.
	Kind Kind `json:"kind"`
	// URL is ldaps://host[:636], or ldap://host[:389] with StartTLS.
	// Plain ldap:// without StartTLS is accepted for a loopback host only:
	// passwords never cross a network in the clear. Required.
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection (RFC 4511 §4.14). Default false.
	StartTLS bool `json:"start_tls"`
	// CAFile is a PEM bundle of the CAs that sign the directory's
	// certificate. Default: the system's roots. There is no option to skip
	// verification: a test directory gets a test CA.
	CAFile string `json:"ca_file"`
	// ServerName is the name checked in the directory's certificate.
	// Default: the host of URL.
	ServerName string `json:"server_name"`

	// BindDN is the service account that searches. Required.
	BindDN string `json:"bind_dn"`
	// BindPasswordFile holds the service account's password; one trailing
	// newline is removed. Required.
	BindPasswordFile string `json:"bind_password_file"`

	// BaseDN is where users and groups are searched (whole subtree). Required.
	BaseDN string `json:"base_dn"`
	// UserFilter finds a user by name; %s, once, stands for the name,
	// escaped (RFC 4515 §3). With "*" in its place it finds every user.
	// Default: ad "(&(objectClass=user)(sAMAccountName=%s))",
	// openldap "(&(objectClass=inetOrgPerson)(uid=%s))".
	UserFilter string `json:"user_filter"`
	// GroupFilter finds groups. Default: ad "(objectClass=group)",
	// openldap "(objectClass=groupOfNames)".
	GroupFilter string `json:"group_filter"`
	// ScopeGroup is the DN of the group whose members keydesk serves;
	// nested groups count. Default none: Members needs it.
	ScopeGroup string `json:"scope_group"`
	// Nesting is "in_chain", "member_of" or "walk".
	// Default: ad "in_chain", openldap "walk".
	Nesting Nesting `json:"nesting"`

	// Attributes names the attributes read from a user entry.
	Attributes Attributes `json:"attributes"`
	// Disabled tells a disabled account. Default: ad userAccountControl
	// bit 0x2 (ACCOUNTDISABLE); openldap pwdAccountLockedTime equal to
	// "000001010000Z", the ppolicy overlay's mark of an account locked by
	// an administrator (other values are lockouts after failed passwords,
	// which end by themselves and are not a disabled account). An empty
	// object ({}) means the directory marks no one.
	Disabled *DisabledMarker `json:"disabled"`

	// Timeout bounds each call of the login path (Authenticate, Lookup,
	// Groups) as a whole, connecting included, and each request of
	// Members. A VPN gives up after about 5 s. Default "3s".
	Timeout Duration `json:"timeout"`
	// MaxConnections bounds the open connections of each of the two pools
	// (service searches, user binds). Default 8.
	MaxConnections int `json:"max_connections"`
	// FailMode is "secure" or "safe": what a login does when the
	// directory cannot answer. Default "secure".
	FailMode FailMode `json:"fail_mode"`
	// MaxDisableShare is the share of directory users one sync may
	// disable before it stops and asks for --force ([PlanOptions]).
	// Default 0.1.
	MaxDisableShare float64 `json:"max_disable_share"`
}

// Attributes are the names of what keydesk reads from a user entry.
type Attributes struct {
	// Username. Default: ad "sAMAccountName", openldap "uid".
	Username string `json:"username"`
	// FullName. Default: ad "displayName", openldap "cn".
	FullName string `json:"full_name"`
	// Email. Default "mail".
	Email string `json:"email"`
	// ID is the immutable id: a rename keeps it.
	// Default: ad "objectGUID", openldap "entryUUID".
	ID string `json:"id"`
	// IDFormat is "guid", "uuid" or "text". Default: ad "guid", openldap "uuid".
	IDFormat IDFormat `json:"id_format"`
	// MemberOf lists a user's groups. Default "memberOf".
	MemberOf string `json:"member_of"`
	// Member lists a group's members. Default "member".
	Member string `json:"member"`
}

// DisabledMarker tells a disabled account by one attribute: with Bit, the
// attribute is an integer and the account is disabled when the bit is set;
// with Value, when one of its values equals Value (ignoring case); with
// neither, when the attribute is present at all.
type DisabledMarker struct {
	Attribute string `json:"attribute"`
	Value     string `json:"value,omitempty"`
	Bit       uint32 `json:"bit,omitempty"`
}

// Duration is a time.Duration written as in Go ("3s", "500ms").
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"3s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	d.Duration = v
	return nil
}

// Default fills the fields left empty with the defaults of c.Kind.
func (c *Config) Default() {
	ad := c.Kind == ActiveDirectory
	pick := func(field *string, adValue, openldapValue string) {
		if *field == "" {
			*field = openldapValue
			if ad {
				*field = adValue
			}
		}
	}
	pick(&c.UserFilter, "(&(objectClass=user)(sAMAccountName=%s))", "(&(objectClass=inetOrgPerson)(uid=%s))")
	pick(&c.GroupFilter, "(objectClass=group)", "(objectClass=groupOfNames)")
	pick((*string)(&c.Nesting), string(InChain), string(Walk))
	a := &c.Attributes
	pick(&a.Username, "sAMAccountName", "uid")
	pick(&a.FullName, "displayName", "cn")
	pick(&a.Email, "mail", "mail")
	pick(&a.ID, "objectGUID", "entryUUID")
	pick((*string)(&a.IDFormat), string(GUID), string(UUID))
	pick(&a.MemberOf, "memberOf", "memberOf")
	pick(&a.Member, "member", "member")
	if c.Disabled == nil {
		c.Disabled = &DisabledMarker{Attribute: "pwdAccountLockedTime", Value: "000001010000Z"}
		if ad {
			c.Disabled = &DisabledMarker{Attribute: "userAccountControl", Bit: 0x2}
		}
	}
	if c.Timeout.Duration == 0 {
		c.Timeout.Duration = 3 * time.Second
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 8
	}
	if c.FailMode == "" {
		c.FailMode = FailSecure
	}
	if c.MaxDisableShare == 0 {
		c.MaxDisableShare = defaultMaxDisableShare
	}
}

// attributeName is an attribute description without options (RFC 4512
// §2.5): a name or a numeric OID.
var attributeName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]{0,127}|[0-9]+(\.[0-9]+)+)$`)

// Validate reports the first thing wrong with c, naming its JSON key.
func (c *Config) Validate() error {
	if c.Kind != ActiveDirectory && c.Kind != OpenLDAP {
		return fmt.Errorf("directory: kind %q: want \"ad\" or \"openldap\"", c.Kind)
	}
	if err := c.validateURL(); err != nil {
		return err
	}
	for _, f := range []struct{ key, dn string }{
		{"bind_dn", c.BindDN}, {"base_dn", c.BaseDN}, {"scope_group", c.ScopeGroup},
	} {
		if f.dn == "" && f.key != "scope_group" {
			return fmt.Errorf("directory: %s is required", f.key)
		}
		if _, err := ldap.ParseDN(f.dn); err != nil {
			return fmt.Errorf("directory: %s %q: %v", f.key, f.dn, err)
		}
	}
	if c.BindPasswordFile == "" {
		return errors.New("directory: bind_password_file is required")
	}
	if strings.Count(c.UserFilter, "%s") != 1 {
		return fmt.Errorf("directory: user_filter %q: want %%s exactly once", c.UserFilter)
	}
	for _, f := range []struct{ key, filter string }{
		{"user_filter", c.userFilter("alice")}, {"user_filter", c.anyUserFilter()}, {"group_filter", c.GroupFilter},
	} {
		if _, err := ldap.CompileFilter(f.filter); err != nil {
			return fmt.Errorf("directory: %s %q: %v", f.key, f.filter, err)
		}
	}
	switch c.Nesting {
	case InChain:
		if c.Kind != ActiveDirectory {
			return errors.New("directory: nesting \"in_chain\" works on Active Directory only; OpenLDAP would match no one")
		}
	case MemberOf, Walk:
	default:
		return fmt.Errorf("directory: nesting %q: want \"in_chain\", \"member_of\" or \"walk\"", c.Nesting)
	}
	if err := c.Attributes.validate(); err != nil {
		return err
	}
	if err := c.validateDisabled(); err != nil {
		return err
	}
	if c.Timeout.Duration <= 0 {
		return fmt.Errorf("directory: timeout %v: want more than zero", c.Timeout)
	}
	if c.MaxConnections < 1 || c.MaxConnections > 1024 {
		return fmt.Errorf("directory: max_connections %d: want 1 to 1024", c.MaxConnections)
	}
	if c.FailMode != FailSecure && c.FailMode != FailSafe {
		return fmt.Errorf("directory: fail_mode %q: want \"secure\" or \"safe\"", c.FailMode)
	}
	if !(c.MaxDisableShare > 0 && c.MaxDisableShare <= 1) {
		return fmt.Errorf("directory: max_disable_share %v: want more than 0, at most 1", c.MaxDisableShare)
	}
	return nil
}

func (c *Config) validateURL() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("directory: url: %v", err)
	}
	if u.Scheme != "ldap" && u.Scheme != "ldaps" {
		return fmt.Errorf("directory: url %q: want ldaps:// or ldap://", c.URL)
	}
	if u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("directory: url %q: want scheme://host[:port] and nothing more", c.URL)
	}
	if u.Scheme == "ldaps" && c.StartTLS {
		return fmt.Errorf("directory: url %q is ldaps:// already: start_tls is for ldap://", c.URL)
	}
	if u.Scheme == "ldap" && !c.StartTLS && !isLoopback(u.Hostname()) {
		return fmt.Errorf("directory: url %q would send passwords in the clear: use ldaps:// or start_tls", c.URL)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a Attributes) validate() error {
	for _, f := range []struct{ key, name string }{
		{"username", a.Username}, {"full_name", a.FullName}, {"email", a.Email},
		{"id", a.ID}, {"member_of", a.MemberOf}, {"member", a.Member},
	} {
		if !attributeName.MatchString(f.name) {
			return fmt.Errorf("directory: attributes.%s %q: want an attribute name", f.key, f.name)
		}
	}
	switch a.IDFormat {
	case GUID, UUID, Text:
		return nil
	}
	return fmt.Errorf("directory: attributes.id_format %q: want \"guid\", \"uuid\" or \"text\"", a.IDFormat)
}

func (c *Config) validateDisabled() error {
	d := c.Disabled
	if d == nil || d.Attribute == "" {
		if d != nil && (d.Value != "" || d.Bit != 0) {
			return errors.New("directory: disabled: value or bit without an attribute")
		}
		return nil
	}
	if !attributeName.MatchString(d.Attribute) {
		return fmt.Errorf("directory: disabled.attribute %q: want an attribute name", d.Attribute)
	}
	if d.Value != "" && d.Bit != 0 {
		return errors.New("directory: disabled: value and bit are exclusive")
	}
	return nil
}

// userFilter finds the user name, escaped (RFC 4515 §3): "*" in a name is
// a star, not a wildcard.
func (c *Config) userFilter(name string) string {
	return strings.Replace(c.UserFilter, "%s", ldap.EscapeFilter(name), 1)
}

// anyUserFilter finds every user: the name's attribute only has to be
// present.
func (c *Config) anyUserFilter() string {
	return strings.Replace(c.UserFilter, "%s", "*", 1)
}
