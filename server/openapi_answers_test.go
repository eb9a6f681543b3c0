package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/keydesk/keydesk/verify"
)

// conformance sends real requests to a fixture and holds each answer,
// status, headers and body, to what the document says of the route that
// took it; a request answered 2xx is held to the document too, since the
// server took it. It remembers which operations answered 2xx.
type conformance struct {
	doc       *openapi3.T
	fx        *fixture
	succeeded map[string]bool
}

func newConformance(doc *openapi3.T, fx *fixture) *conformance {
	return &conformance{doc: doc, fx: fx, succeeded: map[string]bool{}}
}

// call sends a request with a JSON body (a string is sent as it is) and
// checks its answer against the operation of pattern.
func (c *conformance) call(t *testing.T, pattern, target, token string, body any) (int, map[string]any) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	if raw != nil {
		header.Set("Content-Type", "application/json")
	}
	return c.send(t, pattern, target, header, raw)
}

func (c *conformance) send(t *testing.T, pattern, target string, header http.Header, body []byte) (int, map[string]any) {
	t.Helper()
	method, tmpl, _ := strings.Cut(pattern, " ")
	request := func() *http.Request {
		r := httptest.NewRequest(method, target, bytes.NewReader(body))
		r.Header = header.Clone()
		return r
	}
	item := c.doc.Paths.Find(tmpl)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s: no such operation in the document", pattern)
	}
	route := &routers.Route{Spec: c.doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}
	rec := httptest.NewRecorder()
	c.fx.srv.Handler().ServeHTTP(rec, request())

	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(briefly)
	in := &openapi3filter.RequestValidationInput{Request: request(), PathParams: pathParams(t, tmpl, target), Route: route, Options: opts}
	if rec.Code >= 200 && rec.Code < 300 {
		c.succeeded[pattern] = true
		if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
			t.Errorf("%s %s: the server took a request the document refuses: %v", method, target, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts}
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("%s %s: the answer %d is not as documented: %v\n%s", method, target, rec.Code, err, rec.Body.Bytes())
	}
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

// briefly says what is wrong where, without the whole schema.
func briefly(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}

// pathParams matches a target's path to the template's segments.
func pathParams(t *testing.T, tmpl, target string) map[string]string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	want, got := strings.Split(tmpl, "/"), strings.Split(u.Path, "/")
	out := map[string]string{}
	for i := range min(len(want), len(got)) {
		if name, ok := strings.CutPrefix(want[i], "{"); ok {
			v, _ := url.PathUnescape(got[i])
			out[strings.TrimSuffix(name, "}")] = v
		}
	}
	return out
}

// expect checks an answer's status and, for an error, its code.
func expect(t *testing.T, what string, status int, m map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || errorCode(m) != wantCode {
		t.Errorf("%s: %d %q, want %d %q (%v)", what, status, errorCode(m), wantStatus, wantCode, m)
	}
}

// Every operation of the document answers as documented: each admin
// route as the role matrix sends it, the application routes through an
// allow, a deny and a sign-in by key, and the errors of each kind.
func TestOpenAPIAnswersConform(t *testing.T) {
	doc := loadOpenAPI(t)
	fx := matrixFixture(t)
	c := newConformance(doc, fx)
	owner := fx.tokens[verify.Owner]
	for _, mc := range matrixCases() {
		body := mc.body
		if f, ok := body.(func(*fixture, string) any); ok {
			body = f(fx, owner)
		}
		if status, m := c.call(t, mc.pattern, mc.path, owner, body); status < 200 || status > 299 {
			t.Errorf("%s as owner: %d %v", mc.pattern, status, m)
		}
	}
	// Pages of every kind, and the rest of the reports.
	for _, target := range []string{"/v1/admin/users?limit=1", "/v1/admin/users?prefix=u-&after=u-disable", "/v1/admin/fobs?limit=1&user=u-show",
		"/v1/admin/audit?limit=1&since=7d", "/v1/admin/log?limit=1", "/v1/admin/log?user=u-show&result=allow"} {
		pattern := "GET " + strings.Split(target, "?")[0]
		if status, m := c.call(t, pattern, target, owner, nil); status != 200 {
			t.Errorf("%s: %d %v", target, status, m)
		}
	}
	for _, name := range []string{"no-factor", "stock", "unused", "expiring", "locked", "bypass"} {
		if status, m := c.call(t, "GET /v1/admin/reports/{name}", "/v1/admin/reports/"+name+"?limit=1", owner, nil); status != 200 {
			t.Errorf("report %s: %d %v", name, status, m)
		}
	}
	_, m := c.call(t, "GET /v1/admin/reports/{name}", "/v1/admin/reports/bypass?limit=1", owner, nil)
	if next, _ := m["next"].(string); next == "" {
		t.Error("a full page of the bypass report has no next")
	} else if status, m := c.call(t, "GET /v1/admin/reports/{name}", "/v1/admin/reports/bypass?limit=1&after="+next, owner, nil); status != 200 {
		t.Errorf("the next page: %d %v", status, m)
	}
	c.applications(t)
	c.server(t)
	c.errors(t)
	for p := range operations(doc) {
		if !c.succeeded[p] {
			t.Errorf("%s never answered 2xx here: its answer is not checked", p)
		}
	}
}

// applications checks the routes applications call: a passcode allowed
// and denied, the factors of a user, and a sign-in by a key the console
// registered.
func (c *conformance) applications(t *testing.T) {
	fx := c.fx
	_, m := c.call(t, "POST /v1/auth", "/v1/auth", fx.appKey, map[string]string{"username": "u-show", "passcode": fx.code("u-show")})
	if m["result"] != "allow" {
		t.Errorf("a right code: %v", m)
	}
	_, m = c.call(t, "POST /v1/auth", "/v1/auth", fx.appKey, map[string]string{"username": "u-show", "passcode": "000 000"})
	if m["result"] != "deny" {
		t.Errorf("a wrong code: %v", m)
	}
	_, m = c.call(t, "POST /v1/preauth", "/v1/preauth", fx.appKey, map[string]string{"username": "u-show"})
	if m["result"] != "auth" {
		t.Errorf("preauth: %v", m)
	}
	_, m = c.call(t, "POST /v1/preauth", "/v1/preauth", fx.appKey, map[string]string{"username": "nobody"})
	if m["result"] != "deny" {
		t.Errorf("preauth of nobody: %v", m)
	}

	key := newTestKey(t, rpID)
	helpDesk := fx.tokens[verify.HelpDesk]
	_, m = c.call(t, "POST /v1/admin/users/{user}/keys/webauthn/begin", "/v1/admin/users/u-enable/keys/webauthn/begin", helpDesk, nil)
	status, m := c.call(t, "POST /v1/admin/users/{user}/keys/webauthn/finish", "/v1/admin/users/u-enable/keys/webauthn/finish", helpDesk,
		map[string]any{"transaction": m["transaction"], "credential": key.register(challengeOf(t, m), loginOrigin), "name": "blue key"})
	if status != http.StatusCreated {
		t.Fatalf("registering a key: %d %v", status, m)
	}
	_, m = c.call(t, "POST /v1/auth/webauthn/begin", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "u-enable"})
	if m["transaction"] == nil {
		t.Fatalf("begin: %v", m)
	}
	_, m = c.call(t, "POST /v1/auth/webauthn/finish", "/v1/auth/webauthn/finish", fx.appKey,
		map[string]any{"transaction": m["transaction"], "credential": key.login(challengeOf(t, m), loginOrigin)})
	if m["result"] != "allow" {
		t.Errorf("a sign-in by key: %v", m)
	}
	// A user with no key is denied at the begin, in the shape of /v1/auth.
	_, m = c.call(t, "POST /v1/auth/webauthn/begin", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "u-disable"})
	if m["result"] != "deny" {
		t.Errorf("begin for a user without a key: %v", m)
	}
}

// server checks the routes for load balancers and monitoring.
func (c *conformance) server(t *testing.T) {
	if status, m := c.call(t, "GET /healthz", "/healthz", "", nil); status != 200 || m["status"] != "ok" {
		t.Errorf("healthz: %d %v", status, m)
	}
	c.call(t, "GET /metrics", "/metrics", "", nil)
	c.call(t, "GET /v1/openapi.json", "/v1/openapi.json", "", nil)
}

// errors checks an answer of each error status the document lists.
func (c *conformance) errors(t *testing.T) {
	fx := c.fx
	owner := fx.tokens[verify.Owner]
	auth := map[string]string{"username": "u-show", "passcode": "123456"}
	status, m := c.call(t, "POST /v1/auth", "/v1/auth", "", auth)
	expect(t, "no key", status, m, 401, "unauthenticated")
	status, m = c.call(t, "POST /v1/auth", "/v1/auth", owner, auth)
	expect(t, "an admin token for an application key", status, m, 401, "unauthenticated")
	status, m = c.call(t, "POST /v1/auth", "/v1/auth", fx.appKey, `{"username":"u-show",`)
	expect(t, "malformed JSON", status, m, 400, "bad_json")
	status, m = c.call(t, "POST /v1/auth", "/v1/auth", fx.appKey, map[string]string{"username": "u-show", "passcode": ""})
	expect(t, "an empty passcode", status, m, 422, "invalid_request")
	status, m = c.call(t, "POST /v1/auth", "/v1/auth", fx.appKey, map[string]string{"username": "u-show", "passcode": strings.Repeat("1", 5000)})
	expect(t, "a body over the limit", status, m, 413, "too_large")
	status, m = c.send(t, "POST /v1/auth", "/v1/auth", http.Header{"Authorization": {"Bearer " + fx.appKey}, "Content-Type": {"text/plain"}},
		[]byte(`{"username":"u-show","passcode":"123456"}`))
	expect(t, "a body in text/plain", status, m, 415, "unsupported_media_type")
	status, m = c.call(t, "POST /v1/auth/webauthn/finish", "/v1/auth/webauthn/finish", fx.appKey,
		map[string]any{"transaction": "bm90LWJlZ3Vu", "credential": newTestKey(t, rpID).login([]byte("challenge never made"), loginOrigin)})
	expect(t, "a sign-in never begun", status, m, 404, "no_transaction")

	status, m = c.call(t, "GET /v1/admin/users", "/v1/admin/users?limit=0", owner, nil)
	expect(t, "limit 0", status, m, 400, "bad_query")
	status, m = c.call(t, "GET /v1/admin/users/{user}", "/v1/admin/users/two%20words", owner, nil)
	expect(t, "a user name with a space", status, m, 400, "bad_path")
	status, m = c.call(t, "GET /v1/admin/users/{user}", "/v1/admin/users/nobody", owner, nil)
	expect(t, "no such user", status, m, 404, "not_found")
	status, m = c.call(t, "GET /v1/admin/reports/{name}", "/v1/admin/reports/everything", owner, nil)
	expect(t, "no such report", status, m, 404, "not_found")
	status, m = c.call(t, "POST /v1/admin/users", "/v1/admin/users", fx.tokens[verify.HelpDesk], map[string]string{"name": "carol"})
	expect(t, "help desk adds a user", status, m, 403, "forbidden")
	status, m = c.call(t, "POST /v1/admin/users", "/v1/admin/users", owner, map[string]string{"name": "u-show"})
	expect(t, "a user twice", status, m, 409, "exists")
	status, m = c.call(t, "POST /v1/admin/fobs/{serial}/lost", "/v1/admin/fobs/F-lost/lost", owner, map[string]string{"reason": "left on a train"})
	expect(t, "a lost fob lost again", status, m, 409, "wrong_state")
	status, m = c.call(t, "POST /v1/admin/fobs/{serial}/resync", "/v1/admin/fobs/F-resync/resync", owner, map[string]string{"code1": "111111", "code2": "222222"})
	expect(t, "a resync with codes the fob never showed", status, m, 422, "resync_failed")

	// Limits, and a server whose inventory cannot be read, on fixtures of
	// their own.
	slow := newConformance(c.doc, newFixture(t, Config{UserRate: 0.001, UserBurst: 1}))
	slow.fx.addUser(t, "dave")
	for i := range 2 {
		status, m = slow.call(t, "POST /v1/auth", "/v1/auth", slow.fx.appKey, map[string]string{"username": "dave", "passcode": "123456"})
		if i == 1 {
			expect(t, "a second attempt at once", status, m, 429, "rate_limited")
		}
	}
	off := newConformance(c.doc, newFixture(t, Config{}))
	status, m = off.call(t, "POST /v1/auth/webauthn/begin", "/v1/auth/webauthn/begin", off.fx.appKey, map[string]string{"username": "dave"})
	expect(t, "keys in the browser off", status, m, 404, "webauthn_off")
	status, m = off.call(t, "POST /v1/admin/users/{user}/invite", "/v1/admin/users/dave/invite", off.fx.tokens[verify.Owner], nil)
	expect(t, "an invitation with the portal off", status, m, 409, "portal_off")
	if err := off.fx.store.Close(); err != nil {
		t.Fatal(err)
	}
	status, m = off.call(t, "GET /healthz", "/healthz", "", nil)
	expect(t, "healthz with the inventory closed", status, m, 503, "unavailable")
}
