package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// allowedBy is docs/roles.md's role table, typed in again here rather than
// read from package verify, so that the matrix checks the routes against
// the design and not against themselves.
var allowedBy = map[string][]verify.Role{
	"view logs":      {"owner", "admin", "app_manager", "user_manager", "help_desk", "read_only"},
	"modify fobs":    {"owner", "admin", "user_manager", "help_desk"},
	"modify users":   {"owner", "admin", "user_manager"},
	"modify apps":    {"owner", "admin", "app_manager"},
	"administrators": {"owner"},
}

var resyncSeed = []byte("12345678901234567890")

// matrixCase is one admin route with a request that succeeds on the
// matrix fixture, and the row of the role table it falls under.
type matrixCase struct {
	pattern, method, path string
	body                  any
	row                   string
}

func matrixCases() []matrixCase {
	code := func(c uint64) string { return fob.HOTPCode(resyncSeed, c, fob.SHA1, 6) }
	return []matrixCase{
		{"GET /v1/admin/users", "GET", "/v1/admin/users", nil, "view logs"},
		{"POST /v1/admin/users", "POST", "/v1/admin/users", map[string]string{"name": "new-user"}, "modify users"},
		{"GET /v1/admin/users/{user}", "GET", "/v1/admin/users/u-show", nil, "view logs"},
		{"POST /v1/admin/users/{user}/disable", "POST", "/v1/admin/users/u-disable/disable", nil, "modify users"},
		{"POST /v1/admin/users/{user}/enable", "POST", "/v1/admin/users/u-enable/enable", nil, "modify users"},
		{"POST /v1/admin/users/{user}/unlock", "POST", "/v1/admin/users/u-show/unlock", nil, "modify fobs"},
		{"GET /v1/admin/fobs", "GET", "/v1/admin/fobs?state=assigned&limit=5", nil, "view logs"},
		{"GET /v1/admin/fobs/{serial}", "GET", "/v1/admin/fobs/F-stock", nil, "view logs"},
		{"POST /v1/admin/fobs/{serial}/assign", "POST", "/v1/admin/fobs/F-stock/assign", map[string]string{"user": "u-show"}, "modify fobs"},
		{"POST /v1/admin/fobs/{serial}/unassign", "POST", "/v1/admin/fobs/F-assigned/unassign", nil, "modify fobs"},
		{"POST /v1/admin/fobs/{serial}/lost", "POST", "/v1/admin/fobs/F-lost/lost", nil, "modify fobs"},
		{"POST /v1/admin/fobs/{serial}/revoke", "POST", "/v1/admin/fobs/F-revoke/revoke", nil, "modify fobs"},
		{"POST /v1/admin/fobs/{serial}/unlock", "POST", "/v1/admin/fobs/F-locked/unlock", nil, "modify fobs"},
		{"POST /v1/admin/fobs/{serial}/resync", "POST", "/v1/admin/fobs/F-resync/resync", map[string]string{"code1": code(3), "code2": code(4)}, "modify fobs"},
		{"GET /v1/admin/users/{user}/bypass", "GET", "/v1/admin/users/u-show/bypass", nil, "view logs"},
		{"POST /v1/admin/users/{user}/bypass", "POST", "/v1/admin/users/u-show/bypass", map[string]any{"count": 2, "ttl": "2h"}, "modify fobs"},
		{"DELETE /v1/admin/users/{user}/bypass", "DELETE", "/v1/admin/users/u-revoke/bypass", nil, "modify fobs"},
		{"GET /v1/admin/users/{user}/keys", "GET", "/v1/admin/users/u-show/keys", nil, "view logs"},
		{"DELETE /v1/admin/users/{user}/keys/{key}", "DELETE", "/v1/admin/users/u-show/keys/desk-key", nil, "modify fobs"},
		{"POST /v1/admin/users/{user}/keys/webauthn/begin", "POST", "/v1/admin/users/u-show/keys/webauthn/begin", nil, "modify fobs"},
		{"POST /v1/admin/users/{user}/keys/webauthn/finish", "POST", "/v1/admin/users/u-show/keys/webauthn/finish", registration, "modify fobs"},
		{"POST /v1/admin/users/{user}/invite", "POST", "/v1/admin/users/u-show/invite", nil, "modify fobs"},
		{"POST /v1/admin/users/{user}/phones/activation", "POST", "/v1/admin/users/u-show/phones/activation", nil, "modify fobs"},
		{"POST /v1/admin/imports", "POST", "/v1/admin/imports", map[string]any{"file_name": "delivery.csv", "allow_duplicate_seed": true,
			"content": base64.StdEncoding.EncodeToString([]byte("IMP-1,3132333435363738393031323334353637383930,hotp,6,0\n"))}, "modify fobs"},
		{"GET /v1/admin/applications", "GET", "/v1/admin/applications", nil, "view logs"},
		{"POST /v1/admin/applications", "POST", "/v1/admin/applications", map[string]any{"name": "new-app",
			"radius_secret": "sixteen or more bytes", "radius_sources": []string{"192.0.2.0/24"}}, "modify apps"},
		{"DELETE /v1/admin/applications/{app}", "DELETE", "/v1/admin/applications/app-remove", nil, "modify apps"},
		{"GET /v1/admin/admins", "GET", "/v1/admin/admins", nil, "administrators"},
		{"POST /v1/admin/admins", "POST", "/v1/admin/admins", map[string]string{"name": "new-admin", "role": "help-desk"}, "administrators"},
		{"POST /v1/admin/admins/{admin}/disable", "POST", "/v1/admin/admins/adm-disable/disable", nil, "administrators"},
		{"GET /v1/admin/audit", "GET", "/v1/admin/audit?limit=10", nil, "view logs"},
		{"GET /v1/admin/log", "GET", "/v1/admin/log?limit=10&result=deny", nil, "view logs"},
		{"GET /v1/admin/audit/verify", "GET", "/v1/admin/audit/verify", nil, "view logs"},
		{"GET /v1/admin/reports/{name}", "GET", "/v1/admin/reports/no-factor?limit=5", nil, "view logs"},
	}
}

// registration is the body of a key registration's finish, begun by the
// administrator whose token the matrix sends: a finish is bound to who
// began it. A role that may not begin gets a body it never reads.
func registration(fx *fixture, token string) any {
	status, m := fx.do(fx.t, "POST", "/v1/admin/users/u-show/keys/webauthn/begin", token, nil)
	if status != http.StatusOK {
		return map[string]any{}
	}
	return map[string]any{"transaction": m["transaction"], "credential": newTestKey(fx.t, rpID).register(challengeOf(fx.t, m), loginOrigin)}
}

// matrixFixture holds one object per changing route, so that each route
// succeeds once in any order.
func matrixFixture(t *testing.T) *fixture {
	fx := newFixture(t, keysConfig())
	ctx := context.Background()
	d := fx.desk
	fx.addUser(t, "u-show")
	for _, u := range []string{"u-disable", "u-enable", "u-revoke"} {
		if _, err := d.AddUser(ctx, inventory.User{Name: u}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.SetUserDisabled(ctx, "u-enable", true))
	for _, serial := range []string{"F-stock", "F-assigned", "F-lost", "F-revoke", "F-locked", "F-resync"} {
		tok := fob.Token{Serial: serial, Kind: fob.HOTP, Secret: resyncSeed}
		tok.Normalize()
		// One seed for all, so that the resync case's codes are known.
		must(d.AddFob(ctx, tok, desk.AddFobOptions{AllowSharedSeed: true}))
		if serial != "F-stock" {
			must(d.AssignFob(ctx, serial, "u-show"))
		}
	}
	if dec, err := fx.ver.VerifySerial(ctx, "F-locked", "000000", verify.Origin{Transport: "test"}); err != nil || dec.Allow {
		t.Fatalf("failing F-locked once: %v %v", dec, err)
	}
	if _, err := fx.desk.IssueBypass(ctx, verify.BypassRequest{User: "u-revoke"}); err != nil {
		t.Fatal(err)
	}
	must(fx.store.Update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User("u-show")
		if err != nil {
			return err
		}
		_, err = tx.AddKey(u.ID, inventory.Key{Name: "desk-key", KeyHandle: []byte("handle"), PublicKey: []byte("pk"),
			AppID: "https://keydesk.example", Certificate: []byte("cert")})
		return err
	}))
	_, _, err := fx.desk.AddApplication(ctx, inventory.NewApplication{Name: "app-remove"})
	must(err)
	_, _, err = fx.desk.AddAdmin(ctx, "adm-disable", verify.ReadOnly)
	must(err)
	return fx
}

func TestMatrixCoversEveryRoute(t *testing.T) {
	fx := newFixture(t, Config{})
	cases := map[string]bool{}
	for _, c := range matrixCases() {
		cases[c.pattern] = true
	}
	for _, rt := range fx.srv.adminRoutes() {
		if !cases[rt.pattern] {
			t.Errorf("route %s has no case in the role matrix", rt.pattern)
		}
		delete(cases, rt.pattern)
	}
	for p := range cases {
		t.Errorf("matrix case %s is no route", p)
	}
}

// TestRoleMatrix sends every admin route as every role: a role the design
// allows gets a 2xx, any other a 403 in the error shape and one audit
// entry saying who was refused what.
func TestRoleMatrix(t *testing.T) {
	for _, role := range verify.Roles {
		t.Run(string(role), func(t *testing.T) {
			fx := matrixFixture(t)
			for _, c := range matrixCases() {
				allowed := false
				for _, r := range allowedBy[c.row] {
					allowed = allowed || r == role
				}
				body := c.body
				if f, ok := body.(func(*fixture, string) any); ok {
					body = f(fx, fx.tokens[role])
				}
				before := fx.auditCount(t, "api refused")
				status, m := fx.do(t, c.method, c.path, fx.tokens[role], body)
				refusals := fx.auditCount(t, "api refused") - before
				switch {
				case allowed && (status < 200 || status > 299):
					t.Errorf("%s as %s: %d %v; the design allows it", c.pattern, role, status, m)
				case !allowed && (status != http.StatusForbidden || errorCode(m) != "forbidden"):
					t.Errorf("%s as %s: %d %v; want 403 forbidden", c.pattern, role, status, m)
				case !allowed && refusals != 1:
					t.Errorf("%s as %s: %d audit entries for the refusal, want 1", c.pattern, role, refusals)
				case allowed && refusals != 0:
					t.Errorf("%s as %s: allowed, yet %d refusals audited", c.pattern, role, refusals)
				}
			}
		})
	}
}

func TestRefusalIsAudited(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.do(t, "POST", "/v1/admin/users", fx.tokens[verify.Billing], map[string]string{"name": "x"})
	var last inventory.AuditEntry
	fx.store.AuditLog(context.Background(), inventory.AuditFilter{Limit: 1}, func(e inventory.AuditEntry) error { last = e; return nil })
	if last.Actor != "api:adm-billing" || last.Action != "api refused" || last.Subject != "POST /v1/admin/users" ||
		last.Detail != "not allowed: the billing role may not modify users and groups" {
		t.Errorf("audit entry %+v", last)
	}
	if _, err := fx.store.User(context.Background(), "x"); err == nil {
		t.Error("the refused request added the user")
	}
}

func TestAdminAuthentication(t *testing.T) {
	fx := newFixture(t, Config{})
	for _, c := range []struct{ name, token string }{
		{"none", ""},
		{"application key", fx.appKey},
		{"made-up", inventory.AdminTokenPrefix + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
	} {
		if status, m := fx.do(t, "GET", "/v1/admin/users", c.token, nil); status != 401 || errorCode(m) != "unauthenticated" {
			t.Errorf("%s: %d %v", c.name, status, m)
		}
	}
	if err := fx.desk.DisableAdmin(context.Background(), "adm-read_only"); err != nil {
		t.Fatal(err)
	}
	if status, m := fx.do(t, "GET", "/v1/admin/users", fx.tokens[verify.ReadOnly], nil); status != 401 {
		t.Errorf("disabled admin: %d %v", status, m)
	}
	if fx.auditCount(t, "api refused") != 0 {
		t.Error("an unauthenticated request was audited as a refusal")
	}
}

func TestLastOwnerStays(t *testing.T) {
	fx := newFixture(t, Config{})
	status, m := fx.do(t, "POST", "/v1/admin/admins/adm-owner/disable", fx.tokens[verify.Owner], nil)
	if status != http.StatusConflict || errorCode(m) != "refused" {
		t.Errorf("disabling the last owner: %d %v", status, m)
	}
}

func TestTokensShownOnceThroughTheAPI(t *testing.T) {
	fx := newFixture(t, Config{})
	status, m := fx.do(t, "POST", "/v1/admin/admins", fx.tokens[verify.Owner], map[string]string{"name": "hd2", "role": "help-desk"})
	token, _ := m["token"].(string)
	if status != 201 || token == "" {
		t.Fatalf("%d %v", status, m)
	}
	if status, m := fx.do(t, "GET", "/v1/admin/users", token, nil); status != 200 {
		t.Errorf("the new token: %d %v", status, m)
	}
	_, m = fx.do(t, "GET", "/v1/admin/admins", fx.tokens[verify.Owner], nil)
	for _, a := range m["admins"].([]any) {
		if _, has := a.(map[string]any)["token"]; has {
			t.Errorf("admin listing shows a token: %v", a)
		}
	}
	status, m = fx.do(t, "POST", "/v1/admin/applications", fx.tokens[verify.AppManager], map[string]any{"name": "wiki"})
	key, _ := m["key"].(string)
	if status != 201 || key == "" {
		t.Fatalf("%d %v", status, m)
	}
	fx.addUser(t, "alice")
	if status, m := fx.do(t, "POST", "/v1/auth", key, map[string]string{"username": "alice", "passcode": fx.code("alice")}); m["result"] != "allow" {
		t.Errorf("the new application key: %d %v", status, m)
	}
}

// Refused calls of one administrator on one route are one audit entry a
// minute, with their count: the least-privileged role cannot fill the
// audit log with fsynced rows.
func TestRefusalsCoalesced(t *testing.T) {
	fx := newFixture(t, Config{})
	for range 50 {
		fx.do(t, "POST", "/v1/admin/users", fx.tokens[verify.Billing], map[string]string{"name": "x"})
	}
	fx.do(t, "GET", "/v1/admin/audit", fx.tokens[verify.Billing], nil) // another route: its own entry
	if n := fx.auditCount(t, "api refused"); n != 2 {
		t.Fatalf("%d refusal entries after 50 refusals on one route and 1 on another, want 2", n)
	}
	if got := testCounter(t, fx, "keydesk_admin_refused_total"); got != "51" {
		t.Errorf("refusals counted: %s, want 51", got)
	}
	fx.clock.Advance(refusalWindow)
	fx.do(t, "POST", "/v1/admin/users", fx.tokens[verify.Billing], map[string]string{"name": "x"})
	var last inventory.AuditEntry
	fx.store.AuditLog(context.Background(), inventory.AuditFilter{Limit: 1}, func(e inventory.AuditEntry) error { last = e; return nil })
	if !strings.Contains(last.Detail, "and 49 more refusals since") {
		t.Errorf("the entry after the window: %+v", last)
	}
	// Refusals left in a window are written when it is over, even if no
	// refusal comes to write them.
	fx.do(t, "POST", "/v1/admin/users", fx.tokens[verify.Billing], map[string]string{"name": "x"})
	fx.clock.Advance(refusalWindow)
	fx.srv.refusals.flush(context.Background(), false)
	fx.store.AuditLog(context.Background(), inventory.AuditFilter{Limit: 1}, func(e inventory.AuditEntry) error { last = e; return nil })
	if !strings.HasPrefix(last.Detail, "1 more refusal since") {
		t.Errorf("the flushed entry: %+v", last)
	}
}
