package verify_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/verify"
)

// roleTable reads the role table of docs/roles.md, so that a change to
// either the document or the code shows up here.
func roleTable(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/roles.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| action ") {
			rows = append(rows, line)
		}
	}
	return rows
}

func TestAuthorizeFollowsTheRoleTable(t *testing.T) {
	rows := roleTable(t)
	if len(rows) != len(verify.Permissions) {
		t.Fatalf("docs/roles.md's table has %d rows, verify.Permissions %d", len(rows), len(verify.Permissions))
	}
	for i, row := range rows {
		cells := strings.Split(strings.Trim(row, "| "), " | ")
		p := verify.Permissions[i]
		if cells[0] != p.String() {
			t.Errorf("row %d of docs/roles.md is %q, verify calls it %q", i+1, cells[0], p.String())
		}
		marks := cells[1:]
		if len(marks) != len(verify.Roles) {
			t.Fatalf("row %q: %d marks for %d roles", row, len(marks), len(verify.Roles))
		}
		for j, r := range verify.Roles {
			err := verify.Authorize(r, p)
			want := marks[j] == "✓"
			if (err == nil) != want {
				t.Errorf("Authorize(%s, %s) = %v, docs/roles.md says %s", r, p, err, marks[j])
			}
			if err != nil && !errors.Is(err, verify.ErrForbidden) {
				t.Errorf("Authorize(%s, %s) = %v, not ErrForbidden", r, p, err)
			}
		}
	}
}

func TestAuthorizeRefusesTheUnknown(t *testing.T) {
	for _, r := range []verify.Role{"", "root", "OWNER", "owner "} {
		if err := verify.Authorize(r, verify.ViewLogs); !errors.Is(err, verify.ErrForbidden) {
			t.Errorf("Authorize(%q, view logs) = %v, want ErrForbidden", r, err)
		}
	}
	for _, p := range []verify.Permission{0, verify.ManageAdmins + 1, -1} {
		if err := verify.Authorize(verify.Owner, p); !errors.Is(err, verify.ErrForbidden) {
			t.Errorf("Authorize(owner, %d) = %v, want ErrForbidden", p, err)
		}
	}
}

func TestAuthorizeSaysWhy(t *testing.T) {
	err := verify.Authorize(verify.HelpDesk, verify.ModifyUsers)
	if err == nil || err.Error() != "not allowed: the help desk role may not modify users and groups" {
		t.Errorf("got %v", err)
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]verify.Role{
		"owner": verify.Owner, "admin": verify.Admin, "Administrator": verify.Admin,
		"app_manager": verify.AppManager, "app-manager": verify.AppManager, "application-manager": verify.AppManager,
		"Application Manager": verify.AppManager, "user-manager": verify.UserManager, "user_manager": verify.UserManager,
		"help-desk": verify.HelpDesk, "helpdesk": verify.HelpDesk, "billing": verify.Billing,
		"read-only": verify.ReadOnly, "readonly": verify.ReadOnly, " read_only ": verify.ReadOnly,
	} {
		got, err := verify.ParseRole(in)
		if err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "root", "app", "manager", "read only only"} {
		if got, err := verify.ParseRole(in); err == nil {
			t.Errorf("ParseRole(%q) = %q, want an error", in, got)
		}
	}
}

func TestRolesRoundTrip(t *testing.T) {
	for _, r := range verify.Roles {
		if got, err := verify.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
		if got, err := verify.ParseRole(r.Label()); err != nil || got != r {
			t.Errorf("ParseRole(Label %q) = %q, %v", r.Label(), got, err)
		}
	}
}
