package server

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func seedFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seedfiles", name))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestImportThroughTheAPI(t *testing.T) {
	fx := newFixture(t, Config{})
	token := fx.tokens[verify.HelpDesk]
	body := map[string]any{"file_name": "oath-v1.csv", "content": seedFile(t, "oath-v1.csv"), "batch": "spring"}

	dry := map[string]any{"file_name": "oath-v1.csv", "content": body["content"], "dry_run": true}
	status, m := fx.do(t, "POST", "/v1/admin/imports", token, dry)
	if status != 200 || m["dry_run"] != true {
		t.Fatalf("dry run: %d %v", status, m)
	}
	if _, err := fx.store.Fob(context.Background(), "OATH-0001"); err == nil {
		t.Fatal("a dry run stored a fob")
	}

	status, m = fx.do(t, "POST", "/v1/admin/imports", token, body)
	if status != 201 {
		t.Fatalf("import: %d %v", status, m)
	}
	batch := m["batches"].([]any)[0].(map[string]any)
	if batch["batch"] != "spring" || batch["imported"].(float64) < 3 {
		t.Errorf("import result %v", batch)
	}
	if f, err := fx.store.Fob(context.Background(), "OATH-0001"); err != nil || f.Batch != "spring" || f.State != inventory.InStock {
		t.Errorf("imported fob: %+v %v", f, err)
	}
	var last inventory.AuditEntry
	fx.store.AuditLog(context.Background(), inventory.AuditFilter{Limit: 1}, func(e inventory.AuditEntry) error { last = e; return nil })
	if last.Actor != "api:adm-help_desk" {
		t.Errorf("last audit entry %+v, want the import by the API's admin", last)
	}

	// The same file again, even under another batch name, is refused,
	// and says which batch has it.
	body["batch"] = "autumn"
	status, m = fx.do(t, "POST", "/v1/admin/imports", token, body)
	if status != 409 || errorCode(m) != "already_imported" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "spring") {
		t.Errorf("second import: %d %v", status, m)
	}
	if got := testCounter(t, fx, `keydesk_imports_total{result="imported"}`); got != "1" {
		t.Errorf("imports metric %q", got)
	}
}

func TestImportRefusals(t *testing.T) {
	fx := newFixture(t, Config{})
	token := fx.tokens[verify.Admin]
	for _, c := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"bad hex", map[string]any{"file_name": "x.csv", "content": seedFile(t, "bad-hex.csv")}, 422, "bad_seed_file"},
		{"not base64", map[string]any{"file_name": "x.csv", "content": "%%%"}, 422, "invalid_request"},
		{"empty", map[string]any{"file_name": "x.csv", "content": ""}, 422, "invalid_request"},
		{"path in name", map[string]any{"file_name": "../x.csv", "content": "eA=="}, 422, "invalid_request"},
		{"unknown format", map[string]any{"file_name": "x", "content": "eA==", "format": "xls"}, 422, "invalid_request"},
		{"short psk", map[string]any{"file_name": "x", "content": "eA==", "psk": "0011"}, 422, "invalid_request"},
	} {
		status, m := fx.do(t, "POST", "/v1/admin/imports", token, c.body)
		if status != c.status || errorCode(m) != c.code {
			t.Errorf("%s: %d %v; want %d %s", c.name, status, m, c.status, c.code)
		}
	}
	if n := fx.auditCount(t, "import"); n != 0 {
		t.Errorf("%d imports audited from refused requests", n)
	}
}

func TestKeysThroughTheAPI(t *testing.T) {
	fx := matrixFixture(t)
	status, m := fx.do(t, "GET", "/v1/admin/users/u-show/keys", fx.tokens[verify.ReadOnly], nil)
	keys, _ := m["keys"].([]any)
	if status != 200 || len(keys) != 1 {
		t.Fatalf("%d %v", status, m)
	}
	k := keys[0].(map[string]any)
	if k["name"] != "desk-key" || k["key_handle"] != nil || k["public_key"] != nil {
		t.Errorf("key shown as %v", k)
	}
	if status, m := fx.do(t, "DELETE", "/v1/admin/users/u-show/keys/nope", fx.tokens[verify.HelpDesk], nil); status != 404 {
		t.Errorf("removing an unknown key: %d %v", status, m)
	}
	if status, m := fx.do(t, "DELETE", "/v1/admin/users/u-show/keys/desk-key", fx.tokens[verify.HelpDesk], nil); status != 200 {
		t.Fatalf("remove: %d %v", status, m)
	}
	if _, m := fx.do(t, "GET", "/v1/admin/users/u-show/keys", fx.tokens[verify.ReadOnly], nil); len(m["keys"].([]any)) != 0 {
		t.Errorf("after removal: %v", m)
	}
	if status, _ := fx.do(t, "GET", "/v1/admin/users/nobody/keys", fx.tokens[verify.ReadOnly], nil); status != 404 {
		t.Errorf("keys of an unknown user: %d", status)
	}
}
