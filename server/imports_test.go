package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
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

// An import that would add users needs "modify users and groups" too: the
// help desk's role may add fobs, not people. The whole file is refused,
// nothing is imported, and the refusal is audited; a file that names
// only users who exist imports.
func TestImportThatAddsUsersNeedsModifyUsers(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "carol")
	csv := func(rows ...string) string {
		return base64.StdEncoding.EncodeToString([]byte("# version: 2\n" + strings.Join(rows, "\n") + "\n"))
	}
	naming := map[string]any{"file_name": "users.csv", "content": csv(
		"carol, U-1, 3132333435363738393031323334353637383930, hotp, 6, 0",
		"dave, U-2, 3132333435363738393031323334353637383931, hotp, 6, 0")}
	status, m := fx.do(t, "POST", "/v1/admin/imports", fx.tokens[verify.HelpDesk], naming)
	if status != 403 || errorCode(m) != "forbidden" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "modify users and groups") {
		t.Fatalf("help desk importing new users: %d %v", status, m)
	}
	if _, err := fx.store.Fob(context.Background(), "U-1"); err == nil {
		t.Error("a refused import stored a fob")
	}
	if _, err := fx.store.User(context.Background(), "dave"); err == nil {
		t.Error("a refused import added a user")
	}
	var last inventory.AuditEntry
	fx.store.AuditLog(context.Background(), inventory.AuditFilter{Limit: 1}, func(e inventory.AuditEntry) error { last = e; return nil })
	if last.Action != "api refused" || last.Subject != "POST /v1/admin/imports" || last.Actor != "api:adm-help_desk" {
		t.Errorf("last audit entry %+v, want the refusal", last)
	}

	existing := map[string]any{"file_name": "carol.csv", "content": csv("carol, U-3, 3132333435363738393031323334353637383932, hotp, 6, 0")}
	if status, m := fx.do(t, "POST", "/v1/admin/imports", fx.tokens[verify.HelpDesk], existing); status != 201 {
		t.Errorf("help desk importing for an existing user: %d %v", status, m)
	}
	if status, m := fx.do(t, "POST", "/v1/admin/imports", fx.tokens[verify.UserManager], naming); status != 201 {
		t.Errorf("user manager importing new users: %d %v", status, m)
	}
	if _, err := fx.store.User(context.Background(), "dave"); err != nil {
		t.Errorf("the user manager's import did not add dave: %v", err)
	}
}

// rawImport sends a seed file as the body itself, options in the query.
func rawImport(t *testing.T, client *http.Client, url, token string, body io.Reader, query string, header map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/v1/admin/imports?"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

// A seed file sent as the body itself is read as it is imported, never
// held whole; one import runs at a time, and the others are told to come
// back (429, Retry-After) before their bodies are read.
func TestImportsOneAtATime(t *testing.T) {
	fx := newFixture(t, Config{ClientRate: -1})
	lv := fx.serve(t, false)
	token := fx.tokens[verify.Admin]
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "seedfiles", "oath-v1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// The first import's body arrives slowly: it holds the import slot.
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		status, _, _ := rawImport(t, http.DefaultClient, lv.url, token, pr, "file_name=slow.csv&batch=slow", nil)
		first <- status
	}()
	pw.Write(raw[:10])
	waitUntil(t, "the first import holds the slot", func() bool { return len(fx.srv.importing) == 1 })
	for i := range 7 {
		status, m, h := rawImport(t, http.DefaultClient, lv.url, token, strings.NewReader(strings.Repeat("x", 1<<20)), "file_name=x.csv", nil)
		if status != http.StatusTooManyRequests || errorCode(m) != "import_running" || h.Get("Retry-After") == "" {
			t.Errorf("import %d while one runs: %d %v %v", i+2, status, m, h)
		}
	}
	pw.Write(raw[10:])
	pw.Close()
	if status := <-first; status != http.StatusCreated {
		t.Fatalf("the first import: %d", status)
	}
	if f, err := fx.store.Fob(context.Background(), "OATH-0001"); err != nil || f.Batch != "slow" {
		t.Errorf("the streamed import stored %+v, %v", f, err)
	}
	if got := testCounter(t, fx, `keydesk_imports_total{result="busy"}`); got != "7" {
		t.Errorf("busy imports counted: %q", got)
	}
	// What opens an encrypted file comes in headers, never the URL.
	pskc, _ := os.ReadFile(filepath.Join("..", "testdata", "seedfiles", "rfc6030-figure6.pskc"))
	status, m, _ := rawImport(t, http.DefaultClient, lv.url, token, bytes.NewReader(pskc), "file_name=f6.pskc&dry_run=true",
		map[string]string{"Keydesk-Seed-PSK": "12345678901234567890123456789012"})
	if status != http.StatusOK || m["dry_run"] != true {
		t.Errorf("encrypted PSKC with the key in a header: %d %v", status, m)
	}
	status, m, _ = rawImport(t, http.DefaultClient, lv.url, token, bytes.NewReader(pskc), "file_name=f6.pskc&dry_run=maybe", nil)
	if status != http.StatusBadRequest {
		t.Errorf("a bad flag: %d %v", status, m)
	}
}
