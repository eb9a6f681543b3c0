package server

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// reportFixture: "has" holds a TOTP fob and a bypass code, "gone" held a
// fob reported lost, "none" holds nothing, "locked" is locked with a fob
// of its own; fob X-1 in stock expires in ten days.
func reportFixture(t *testing.T) *fixture {
	t.Helper()
	fx := newFixture(t, Config{})
	ctx := context.Background()
	fx.addUser(t, "has")
	fx.addUser(t, "gone")
	fx.addUser(t, "locked")
	if _, err := fx.desk.AddUser(ctx, inventory.User{Name: "none"}); err != nil {
		t.Fatal(err)
	}
	gone, err := fx.store.Fob(ctx, fx.fobOf(t, "gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.desk.ReportLost(ctx, gone.Token.Serial); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.desk.IssueBypass(ctx, verify.BypassRequest{User: "has"}); err != nil {
		t.Fatal(err)
	}
	for range verify.DefaultPolicy.LockoutAfter {
		if d, err := fx.ver.VerifyUser(ctx, "locked", "000000", verify.Origin{Transport: "test"}); err != nil || d.Allow {
			t.Fatalf("a wrong code for locked: %+v %v", d, err)
		}
	}
	x := fob.Token{Serial: "X-1", Kind: fob.HOTP, Secret: []byte("a seed only X-1 has!"), NotAfter: fx.clock.Now().Add(10 * 24 * time.Hour)}
	x.Normalize()
	if err := fx.store.Update(ctx, func(tx *inventory.Tx) error { return tx.AddFob(x, 0, 0) }); err != nil {
		t.Fatal(err)
	}
	return fx
}

// fobOf is the serial of the one fob user holds or held.
func (fx *fixture) fobOf(t *testing.T, user string) string {
	t.Helper()
	var serial string
	err := fx.store.Fobs(context.Background(), inventory.FobFilter{User: user}, func(f inventory.Fob) error { serial = f.Token.Serial; return nil })
	if err != nil || serial == "" {
		t.Fatalf("%s's fob: %q %v", user, serial, err)
	}
	return serial
}

// getReport fetches a report as the read-only admin and returns its rows.
func (fx *fixture) getReport(t *testing.T, path string) ([]map[string]any, map[string]any) {
	t.Helper()
	status, m := fx.do(t, "GET", "/v1/admin/reports/"+path, fx.tokens[verify.ReadOnly], nil)
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, m)
	}
	var rows []map[string]any
	for _, r := range m["rows"].([]any) {
		rows = append(rows, r.(map[string]any))
	}
	return rows, m
}

func column(rows []map[string]any, key string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[key]))
	}
	return out
}

func TestReportRoutes(t *testing.T) {
	fx := reportFixture(t)

	rows, m := fx.getReport(t, "no-factor")
	if got := column(rows, "user"); m["report"] != "no-factor" || !slices.Equal(got, []string{"gone", "none"}) || rows[0]["lost_fobs"] != 1.0 {
		t.Errorf("no-factor: %v", m)
	}
	rows, m = fx.getReport(t, "no-factor?limit=1")
	if m["next"] != "gone" || len(rows) != 1 {
		t.Errorf("no-factor, a page of 1: %v", m)
	}
	if rows, m = fx.getReport(t, "no-factor?limit=1&after=gone"); !slices.Equal(column(rows, "user"), []string{"none"}) {
		t.Errorf("no-factor after gone: %v", m)
	}

	rows, _ = fx.getReport(t, "stock")
	if len(rows) != 1 || rows[0]["batch"] != "" || rows[0]["assigned"] != 2.0 || rows[0]["lost"] != 1.0 || rows[0]["stock"] != 1.0 || rows[0]["total"] != 4.0 {
		t.Errorf("stock: %v", rows)
	}

	if rows, m = fx.getReport(t, "locked"); len(rows) != 1 || rows[0]["kind"] != "user" || rows[0]["name"] != "locked" || rows[0]["ends_at"] == nil {
		t.Errorf("locked: %v", m)
	}

	if rows, m = fx.getReport(t, "bypass"); !slices.Equal(column(rows, "user"), []string{"has"}) || rows[0]["uses_left"] != 1.0 {
		t.Errorf("bypass: %v", m)
	}

	if rows, m = fx.getReport(t, "expiring?days=9"); len(rows) != 0 || m["days"] != 9.0 {
		t.Errorf("expiring within 9 days: %v", m)
	}
	if rows, m = fx.getReport(t, "expiring?days=11"); !slices.Equal(column(rows, "serial"), []string{"X-1"}) || rows[0]["expired"] != false {
		t.Errorf("expiring within 11 days: %v", m)
	}

	// Two days on, nobody has used a fob; the lock has ended.
	fx.clock.Advance(48 * time.Hour)
	rows, m = fx.getReport(t, "unused?days=1")
	if got := column(rows, "user"); !slices.Equal(got, []string{"has", "locked"}) && !slices.Equal(got, []string{"locked", "has"}) {
		t.Errorf("unused for a day: %v", m)
	}
	if rows, m = fx.getReport(t, "unused?days=3"); len(rows) != 0 {
		t.Errorf("unused for 3 days: %v", m)
	}
	if rows, m = fx.getReport(t, "unused?days=1&limit=1"); len(rows) != 1 || m["next"] != "fob:"+fmt.Sprint(rows[0]["serial"]) {
		t.Errorf("unused, a page of 1: %v", m)
	}
	if rows, m = fx.getReport(t, "locked"); len(rows) != 0 {
		t.Errorf("locked after the cool-down: %v", m)
	}
}

func TestReportRouteRefusals(t *testing.T) {
	fx := newFixture(t, Config{})
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"nope", 404, "not_found"},
		{"unused?days=0", 400, "bad_query"},
		{"expiring?days=3651", 400, "bad_query"},
		{"expiring?days=many", 400, "bad_query"},
		{"stock?days=5", 400, "bad_query"},
		{"unused?after=phone:1", 400, "bad_query"},
		{"bypass?after=x", 400, "bad_query"},
		{"no-factor?limit=0", 400, "bad_query"},
	} {
		if status, m := fx.do(t, "GET", "/v1/admin/reports/"+c.path, fx.tokens[verify.HelpDesk], nil); status != c.status || errorCode(m) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.path, status, m, c.status, c.code)
		}
	}
}

// The reason of a fob reported lost or revoked and of a user disabled is
// kept, and shown with the fob and the user; the body may be left out.
func TestReasonsInBodies(t *testing.T) {
	fx := newFixture(t, Config{})
	token := fx.tokens[verify.Admin]
	fx.addUser(t, "ann")
	serial := fx.fobOf(t, "ann")
	status, m := fx.do(t, "POST", "/v1/admin/fobs/"+serial+"/lost", token, map[string]string{"reason": "left on the 8:15 bus"})
	if status != 200 || m["reason"] != "left on the 8:15 bus" || m["state"] != "lost" {
		t.Errorf("lost with a reason: %d %v", status, m)
	}
	status, m = fx.do(t, "POST", "/v1/admin/fobs/"+serial+"/revoke", token, map[string]string{"reason": "never found"})
	if status != 200 || m["reason"] != "never found" || m["state"] != "revoked" {
		t.Errorf("revoke with a reason: %d %v", status, m)
	}
	if status, m = fx.do(t, "POST", "/v1/admin/users/ann/disable", token, map[string]string{"reason": "on leave"}); status != 200 {
		t.Errorf("disable with a reason: %d %v", status, m)
	}
	if _, m = fx.do(t, "GET", "/v1/admin/users/ann", token, nil); m["disabled_reason"] != "on leave" {
		t.Errorf("the disabled user: %v", m)
	}
	var last inventory.AuditEntry
	fx.store.AuditLog(context.Background(), inventory.AuditFilter{Limit: 1}, func(e inventory.AuditEntry) error { last = e; return nil })
	if last.Action != "user disable" || last.Detail != "reason: on leave" {
		t.Errorf("audit entry %+v", last)
	}
	if status, m = fx.do(t, "POST", "/v1/admin/users/ann/enable", token, nil); status != 200 {
		t.Errorf("enable without a body: %d %v", status, m)
	}
	if _, m = fx.do(t, "GET", "/v1/admin/users/ann", token, nil); m["disabled_reason"] != nil {
		t.Errorf("the enabled user keeps a reason: %v", m)
	}
	for _, body := range []any{map[string]string{"reason": "two\nlines"}, map[string]any{"reason": 3}, map[string]string{"why": "x"}} {
		if status, m = fx.do(t, "POST", "/v1/admin/users/ann/disable", token, body); status < 400 || status > 422 {
			t.Errorf("disable with %v: %d %v", body, status, m)
		}
	}
}
