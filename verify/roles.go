package verify

import (
	"errors"
	"fmt"
	"strings"
)

// Role is what an administrator of the server may do, after Duo's
// administrative roles (docs/roles.md).
type Role string

// The roles, spelled as the inventory stores them.
const (
	Owner       Role = "owner"
	Admin       Role = "admin"
	AppManager  Role = "app_manager"
	UserManager Role = "user_manager"
	HelpDesk    Role = "help_desk"
	Billing     Role = "billing"
	ReadOnly    Role = "read_only"
)

// Roles lists every role, most powerful first.
var Roles = []Role{Owner, Admin, AppManager, UserManager, HelpDesk, Billing, ReadOnly}

// ParseRole accepts a role as stored ("app_manager") and the spellings a
// clerk types ("application-manager", "app-manager", "Help Desk").
func ParseRole(s string) (Role, error) {
	norm := strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	switch norm {
	case "application_manager":
		return AppManager, nil
	case "administrator":
		return Admin, nil
	case "readonly":
		return ReadOnly, nil
	case "helpdesk":
		return HelpDesk, nil
	}
	for _, r := range Roles {
		if string(r) == norm {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want owner, admin, app-manager, user-manager, help-desk, billing or read-only)", s)
}

// Permission is one row of the role table: a kind of action.
type Permission int

// The rows of the role table, in docs/roles.md's order.
const (
	ViewLogs           Permission = iota + 1 // view logs (and, read only, the inventory)
	ModifyFobs                               // modify fobs, keys, phone apps, bypass codes
	ModifyUsers                              // modify users and groups
	ModifyApplications                       // modify applications (API clients, RADIUS clients)
	ModifySettings                           // modify settings
	ManageBilling                            // view and modify billing
	ManageAdmins                             // view and modify administrators
)

// Permissions lists every row of the role table.
var Permissions = []Permission{ViewLogs, ModifyFobs, ModifyUsers, ModifyApplications, ModifySettings, ManageBilling, ManageAdmins}

var permissionNames = map[Permission]string{
	ViewLogs:           "view logs",
	ModifyFobs:         "modify fobs, keys, phone apps and bypass codes",
	ModifyUsers:        "modify users and groups",
	ModifyApplications: "modify applications",
	ModifySettings:     "modify settings",
	ManageBilling:      "view and modify billing",
	ManageAdmins:       "view and modify administrators",
}

func (p Permission) String() string {
	if n, ok := permissionNames[p]; ok {
		return n
	}
	return fmt.Sprintf("permission %d", int(p))
}

// roleTable is docs/roles.md's table, row by row: the roles allowed each
// action. Kept as the table reads so the two can be compared by eye.
var roleTable = map[Permission][]Role{
	ViewLogs:           {Owner, Admin, AppManager, UserManager, HelpDesk, ReadOnly},
	ModifyFobs:         {Owner, Admin, UserManager, HelpDesk},
	ModifyUsers:        {Owner, Admin, UserManager},
	ModifyApplications: {Owner, Admin, AppManager},
	ModifySettings:     {Owner, Admin},
	ManageBilling:      {Owner, Billing},
	ManageAdmins:       {Owner},
}

// ErrForbidden is wrapped by [Authorize] when a role may not act.
var ErrForbidden = errors.New("not allowed")

// Authorize decides whether an administrator with role r may take an
// action that needs p. A role or permission it does not know is refused:
// the table is a list of what is allowed, never of what is not.
func Authorize(r Role, p Permission) error {
	for _, allowed := range roleTable[p] {
		if allowed == r {
			return nil
		}
	}
	if _, known := permissionNames[p]; !known {
		return fmt.Errorf("%w: %s is not in the role table", ErrForbidden, p)
	}
	if _, err := ParseRole(string(r)); err != nil || r == "" {
		return fmt.Errorf("%w: unknown role %q", ErrForbidden, r)
	}
	return fmt.Errorf("%w: the %s role may not %s", ErrForbidden, r.Label(), p)
}

// Label is the role as the help desk says it: "help desk", "app manager".
func (r Role) Label() string {
	if r == AppManager {
		return "application manager"
	}
	return strings.ReplaceAll(string(r), "_", " ")
}
