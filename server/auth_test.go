package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func TestAuthDecides(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	code := fx.code("alice")
	for _, c := range []struct {
		name, user, code string
		result, reason   string
	}{
		{"right code", "alice", code, "allow", "ok"},
		{"same code again", "alice", code, "deny", "replay"},
		{"wrong code", "alice", "000000", "deny", "wrong_code"},
		{"unknown user", "nobody", code, "deny", "unknown_user"},
		{"not a code", "alice", "12", "deny", "malformed"},
	} {
		status, m := fx.auth(t, c.user, c.code)
		if status != http.StatusOK || m["result"] != c.result || m["reason_code"] != c.reason {
			t.Errorf("%s: %d %v; want %s (%s)", c.name, status, m, c.result, c.reason)
		}
		if r, _ := m["reason"].(string); r == "" {
			t.Errorf("%s: no reason given: %v", c.name, m)
		}
	}
}

func TestAuthNeedsAnApplication(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	body := map[string]string{"username": "alice", "passcode": fx.code("alice")}
	for _, c := range []struct {
		name, token string
	}{
		{"no token", ""},
		{"made-up key", inventory.AppKeyPrefix + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"an admin token", fx.tokens["owner"]},
		{"garbage", "\x00\xff"},
	} {
		status, m := fx.do(t, "POST", "/v1/auth", c.token, body)
		if status != http.StatusUnauthorized || errorCode(m) != "unauthenticated" {
			t.Errorf("%s: %d %v; want 401 unauthenticated", c.name, status, m)
		}
	}
	// None of them reached the verifier: the code is still good.
	if status, m := fx.auth(t, "alice", body["passcode"]); status != 200 || m["result"] != "allow" {
		t.Errorf("after refused requests, the right code gives %d %v", status, m)
	}
}

func TestAuthRefusesBadBodies(t *testing.T) {
	fx := newFixture(t, Config{})
	for _, c := range []struct {
		name, body, ctype string
		status            int
		code, message     string
	}{
		{"empty", "", "application/json", 400, "bad_json", "empty"},
		{"not JSON", "username=alice", "application/json", 400, "bad_json", "byte 1"},
		{"truncated", `{"username":"alice"`, "application/json", 400, "bad_json", "ends early"},
		{"unknown field", `{"username":"alice","passcode":"123456","pin":"1"}`, "application/json", 400, "bad_json", `unknown field "pin"`},
		{"wrong type", `{"username":"alice","passcode":123456}`, "application/json", 400, "bad_json", `field "passcode" at byte`},
		{"array", `[1]`, "application/json", 400, "bad_json", "want a JSON object"},
		{"two values", `{"username":"alice","passcode":"123456"} {}`, "application/json", 400, "bad_json", "more data"},
		{"no user", `{"passcode":"123456"}`, "application/json", 422, "invalid_request", "username: empty"},
		{"no passcode", `{"username":"alice"}`, "application/json", 422, "invalid_request", "passcode: empty"},
		{"long passcode", `{"username":"alice","passcode":"` + strings.Repeat("1", 65) + `"}`, "application/json", 422, "invalid_request", "longer than 64"},
		{"tab in passcode", `{"username":"alice","passcode":"123\t456"}`, "application/json", 422, "invalid_request", "character 4"},
		{"form", `{"username":"alice","passcode":"123456"}`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", "application/json"},
		{"huge", `{"username":"` + strings.Repeat("a", maxAuthBody) + `"}`, "application/json", 413, "too_large", "4096"},
	} {
		req := httptest.NewRequest("POST", "/v1/auth", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+fx.appKey)
		req.Header.Set("Content-Type", c.ctype)
		rec := httptest.NewRecorder()
		fx.srv.Handler().ServeHTTP(rec, req)
		m := decodeAnswer(t, rec.Body.Bytes())
		msg, _ := m["error"].(map[string]any)["message"].(string)
		if rec.Code != c.status || errorCode(m) != c.code || !strings.Contains(msg, c.message) {
			t.Errorf("%s: %d %v; want %d %s containing %q", c.name, rec.Code, m, c.status, c.code, c.message)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
	}
}

// The passcode is never quoted back in an error: a user may have typed a
// password into the wrong field.
func TestAuthErrorsDoNotQuotePasscodes(t *testing.T) {
	fx := newFixture(t, Config{})
	// A tab is refused as input, so the answer is an error about the
	// passcode; spaces are accepted (codes are read aloud in groups), so
	// the other is a denial. Neither may quote it.
	for _, secret := range []string{"hunter2\tmy password", "hunter2 my password"} {
		_, m := fx.do(t, "POST", "/v1/auth", fx.appKey, map[string]string{"username": "alice", "passcode": secret})
		if m["error"] == nil && m["result"] != "deny" {
			t.Fatalf("passcode %q: answer %v, want an error or a denial", secret, m)
		}
		if b, _ := json.Marshal(m); strings.Contains(string(b), "hunter2") {
			t.Errorf("answer %s quotes the passcode", b)
		}
	}
}

func TestRemovedApplicationStopsAtOnce(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	if status, _ := fx.auth(t, "alice", "000000"); status != 200 {
		t.Fatalf("status %d", status)
	}
	// Removed through the API: the cache is cleared at once.
	if status, m := fx.do(t, "DELETE", "/v1/admin/applications/vpn", fx.tokens["owner"], nil); status != 200 {
		t.Fatalf("remove: %d %v", status, m)
	}
	if status, m := fx.auth(t, "alice", "000000"); status != http.StatusUnauthorized {
		t.Errorf("a removed application's key gives %d %v", status, m)
	}
}

func TestApplicationRemovedElsewhereStopsWithinCacheTTL(t *testing.T) {
	fx := newFixture(t, Config{CacheTTL: Duration(2 * time.Second)})
	fx.addUser(t, "alice")
	if status, _ := fx.auth(t, "alice", "000000"); status != 200 {
		t.Fatalf("status %d", status)
	}
	// Removed by the CLI, another process: the server sees it once its
	// cache of the key expires.
	if err := fx.desk.As("cli:test").RemoveApplication(context.Background(), "vpn"); err != nil {
		t.Fatal(err)
	}
	if status, _ := fx.auth(t, "alice", "000000"); status != 200 {
		t.Errorf("within the cache TTL: %d", status)
	}
	fx.clock.Advance(2 * time.Second)
	if status, m := fx.auth(t, "alice", "000000"); status != http.StatusUnauthorized {
		t.Errorf("after the cache TTL: %d %v", status, m)
	}
}

// A brute force meets the per-user rate limit first and the verifier's
// lockout after: ten failures lock the user, and then even the right code
// is refused until an admin unlocks.
func TestBruteForceMeetsRateLimitAndLockout(t *testing.T) {
	fx := newFixture(t, Config{UserRate: 0.5, UserBurst: 5})
	fx.addUser(t, "alice")
	fx.addUser(t, "bob")
	guesses, limited := 0, 0
	for i := 0; guesses < 10; i++ {
		if i > 1000 {
			t.Fatal("never locked")
		}
		status, m := fx.auth(t, "alice", "000000")
		switch {
		case status == http.StatusTooManyRequests:
			limited++
			fx.clock.Advance(time.Second)
		case status == 200 && m["result"] == "deny":
			guesses++
		default:
			t.Fatalf("guess %d: %d %v", i, status, m)
		}
		if limited == 0 && guesses > 5 {
			t.Fatal("six guesses at once were not limited")
		}
	}
	if limited == 0 {
		t.Error("the rate limit never refused a guess")
	}
	fx.clock.Advance(time.Minute)
	status, m := fx.auth(t, "alice", fx.code("alice"))
	if status != 200 || m["result"] != "deny" || m["reason_code"] != "user_locked" {
		t.Errorf("after ten failures the right code gives %d %v; want user_locked", status, m)
	}
	// Another user is not affected.
	if status, m := fx.auth(t, "bob", fx.code("bob")); m["result"] != "allow" {
		t.Errorf("bob: %d %v", status, m)
	}
	if status, m := fx.do(t, "POST", "/v1/admin/users/alice/unlock", fx.tokens["help_desk"], nil); status != 200 {
		t.Fatalf("unlock: %d %v", status, m)
	}
	fx.clock.Advance(30 * time.Second)
	if status, m := fx.auth(t, "alice", fx.code("alice")); m["result"] != "allow" {
		t.Errorf("after unlock: %d %v", status, m)
	}
}

func TestClientRateLimit(t *testing.T) {
	fx := newFixture(t, Config{ClientRate: 1, ClientBurst: 3})
	for i := range 3 {
		if status, _ := fx.do(t, "GET", "/healthz", "", nil); status != 200 {
			t.Fatalf("request %d: %d", i, status)
		}
	}
	req := httptest.NewRequest("GET", "/healthz", nil)
	rec := httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("fourth request: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Another address has its own bucket.
	req.RemoteAddr = "192.0.2.9:1234"
	rec = httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("another address: %d", rec.Code)
	}
	fx.clock.Advance(time.Second)
	if status, _ := fx.do(t, "GET", "/healthz", "", nil); status != 200 {
		t.Errorf("a second later: %d", status)
	}
}

func TestUnmatchedRoutesAnswerJSON(t *testing.T) {
	fx := newFixture(t, Config{})
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nope", 404, "no_route"},
		{"GET", "/v1/auth", 405, "method_not_allowed"},
		{"PUT", "/v1/admin/users", 405, "method_not_allowed"},
	} {
		status, m := fx.do(t, c.method, c.path, "", nil)
		if status != c.status || errorCode(m) != c.code {
			t.Errorf("%s %s: %d %v", c.method, c.path, status, m)
		}
	}
}

func TestHealthz(t *testing.T) {
	fx := newFixture(t, Config{})
	if status, m := fx.do(t, "GET", "/healthz", "", nil); status != 200 || m["status"] != "ok" || m["store"] != fx.store.Kind() {
		t.Errorf("%d %v", status, m)
	}
	fx.store.Close()
	if status, m := fx.do(t, "GET", "/healthz", "", nil); status < 500 {
		t.Errorf("with the inventory closed: %d %v", status, m)
	}
}

// failingDecider cannot decide: its inventory is gone.
type failingDecider struct{ Decider }

func (failingDecider) VerifyUser(context.Context, string, string, verify.Origin) (verify.Decision, error) {
	return verify.Decision{Allow: true}, errors.New("disk I/O error")
}

// No decision is never an allow: an error from the verifier answers 503
// "no_decision", whatever the decision it came with says, and the
// server's log has the cause while the application does not.
func TestAuthWithoutADecision(t *testing.T) {
	fx := newFixture(t, Config{})
	deps := NewDeps(fx.store, fx.ver)
	deps.Decider = failingDecider{fx.ver}
	var logged strings.Builder
	srv, err := New(Config{Now: fx.clock.Now, Log: slog.New(slog.NewTextHandler(&logged, nil))}, deps)
	if err != nil {
		t.Fatal(err)
	}
	fx.srv = srv
	status, m := fx.auth(t, "alice", "123456")
	if status != http.StatusServiceUnavailable || errorCode(m) != "no_decision" || m["result"] != nil {
		t.Fatalf("got %d %v; want 503 no_decision", status, m)
	}
	if strings.Contains(fmt.Sprint(m), "disk I/O") {
		t.Errorf("the cause reached the application: %v", m)
	}
	if !strings.Contains(logged.String(), "disk I/O error") {
		t.Errorf("the server's log does not have the cause: %q", logged.String())
	}
}

// A key given twice, or in another case, is refused: a proxy in front of
// keydesk could read the other one.
func TestAuthBodyKeysExactlyOnce(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	for _, body := range []string{
		`{"username":"carol","passcode":"123456","username":"alice"}`,
		`{"username":"alice","passcode":"123456","Username":"carol"}`,
		`{"USERNAME":"alice","passcode":"123456"}`,
		`{"username":"alice","PassCode":"123456"}`,
	} {
		req := httptest.NewRequest("POST", "/v1/auth", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fx.appKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"bad_json"`) {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	if n := fx.authEntries(t); n != 0 {
		t.Errorf("%d decisions made on refused bodies", n)
	}
}

// An application hears only whether a passcode was accepted, unless it
// was added with detailed reasons: who exists, which fob answered, the
// server's time and a fob's drift are for the help desk. The server's
// log and the authentication log have the full reason.
func TestGenericReasonsForApplications(t *testing.T) {
	var logged strings.Builder
	fx := newFixture(t, Config{UserRate: -1, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	fx.addUser(t, "alice")
	_, key, err := fx.desk.AddApplication(context.Background(), inventory.NewApplication{Name: "webmail"})
	if err != nil {
		t.Fatal(err)
	}
	code := fx.code("alice")
	for _, c := range []struct{ user, code, result, reason string }{
		{"alice", code, "allow", "passcode accepted"},
		{"alice", code, "deny", "passcode not accepted"},
		{"alice", "000000", "deny", "passcode not accepted"},
		{"mallory", "000000", "deny", "passcode not accepted"},
	} {
		status, m := fx.do(t, "POST", "/v1/auth", key, map[string]string{"username": c.user, "passcode": c.code})
		want := map[string]any{"result": c.result, "reason": c.reason, "reason_code": map[bool]string{true: "ok", false: "denied"}[c.result == "allow"]}
		if status != 200 || fmt.Sprint(m) != fmt.Sprint(want) {
			t.Errorf("%s %s: %d %v, want %v", c.user, c.code, status, m, want)
		}
	}
	entries, _ := fx.store.AuthLog(context.Background(), inventory.AuthFilter{})
	if len(entries) != 4 || entries[0].User != "mallory" || entries[0].ReasonCode != "unknown_user" || entries[0].App != "webmail" ||
		entries[2].ReasonCode != "replay" || entries[3].Factor != "fob LT-alice" {
		t.Errorf("the authentication log: %+v", entries)
	}
	for _, want := range []string{"reason_code=unknown_user", "reason_code=replay", "app=webmail", "transport=http"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the server's log lacks %q", want)
		}
	}
	if strings.Contains(logged.String(), code) || strings.Contains(logged.String(), "000000") {
		t.Error("the server's log has a passcode")
	}
}

// A code is typed the way people read it off a fob: "592 264" and
// "592-264" are 592264.
func TestAuthCodeWithSpaces(t *testing.T) {
	fx := newFixture(t, Config{UserRate: -1})
	fx.addUser(t, "alice")
	code := fx.code("alice")
	status, m := fx.auth(t, "alice", code[:3]+" "+code[3:])
	if status != 200 || m["result"] != "allow" {
		t.Fatalf("%q: %d %v", code[:3]+" "+code[3:], status, m)
	}
	fx.clock.Advance(30 * time.Second)
	code = fx.code("alice")
	if status, m := fx.auth(t, "alice", code[:3]+"-"+code[3:]); status != 200 || m["result"] != "allow" {
		t.Fatalf("with a dash: %d %v", status, m)
	}
}
