package server

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadOpenAPI reads the embedded document as OpenAPI, resolved and
// validated.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("server/openapi.json does not load as OpenAPI: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("server/openapi.json is not valid OpenAPI: %v", err)
	}
	return doc
}

// routePatterns are the patterns of every route the server registers,
// as register hands them to the mux.
func (s *Server) routePatterns() []string {
	var out []string
	s.register(func(pattern string, _ http.Handler) { out = append(out, pattern) })
	return out
}

// documented reports whether a route is one the document describes: the
// portal, pages, static files and its script's JSON alike, is for people
// in a browser and is left out.
func documented(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	return !strings.HasPrefix(path, "/portal/")
}

// operations are the document's operations, as "METHOD /path" patterns.
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	out := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+path] = op
		}
	}
	return out
}

func TestOpenAPIIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	if !strings.Contains(doc.Info.Description, "/portal/") {
		t.Error("the description does not say the portal is left out")
	}
}

// Every route the server registers (with the portal and keys in the
// browser on, so that every route is) is an operation of the document,
// with the same method and path, and every operation is a route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := operations(doc)
	fx := newFixture(t, keysConfig())
	patterns := fx.srv.routePatterns()
	if len(patterns) < 40 {
		t.Fatalf("only %d routes listed: the listing is broken", len(patterns))
	}
	var routes []string
	for _, p := range patterns {
		if !documented(p) {
			continue
		}
		routes = append(routes, p)
		if ops[p] == nil {
			t.Errorf("route %s is not in server/openapi.json", p)
		}
	}
	for p := range ops {
		if !slices.Contains(routes, p) {
			t.Errorf("server/openapi.json has %s, which the server does not register", p)
		}
	}
	// The portal's routes are left out, and only they.
	if slices.Equal(routes, patterns) {
		t.Error("no portal route was registered: the fixture does not turn the portal on")
	}
}

// Each admin operation names the row of the role table its route needs,
// in the words of verify.Permission; no other operation names one. The
// security of each operation is the caller it is for.
func TestOpenAPIPermissions(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := operations(doc)
	fx := newFixture(t, Config{})
	admin := map[string]bool{}
	for _, rt := range fx.srv.adminRoutes() {
		admin[rt.pattern] = true
		op := ops[rt.pattern]
		if op == nil {
			continue // TestOpenAPICoversEveryRoute says so
		}
		if got, want := op.Extensions["x-keydesk-permission"], rt.perm.String(); got != want {
			t.Errorf("%s: x-keydesk-permission %v, the route needs %q", rt.pattern, got, want)
		}
	}
	for p, op := range ops {
		scheme := securityOf(op, doc)
		_, path, _ := strings.Cut(p, " ")
		switch {
		case admin[p]:
			if scheme != "adminToken" {
				t.Errorf("%s: security %q, want adminToken", p, scheme)
			}
			for _, code := range []int{401, 403} {
				if op.Responses.Status(code) == nil {
					t.Errorf("%s: no %d answer", p, code)
				}
			}
		case strings.HasPrefix(path, "/v1/") && path != "/v1/openapi.json":
			if _, has := op.Extensions["x-keydesk-permission"]; has {
				t.Errorf("%s names a permission, but is no admin route", p)
			}
			if scheme != "applicationKey" || op.Responses.Status(401) == nil {
				t.Errorf("%s: security %q, want applicationKey with a 401 answer", p, scheme)
			}
		default:
			if scheme != "" {
				t.Errorf("%s: security %q, want none", p, scheme)
			}
		}
	}
}

// securityOf is the one security scheme an operation takes, "" for none.
func securityOf(op *openapi3.Operation, doc *openapi3.T) string {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var names []string
	for _, r := range reqs {
		for name := range r {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// requestTypes are the types the handlers decode each route's JSON body
// into.
var requestTypes = map[string]any{
	"POST /v1/auth":                                    authRequest{},
	"POST /v1/preauth":                                 usernameRequest{},
	"POST /v1/auth/webauthn/begin":                     usernameRequest{},
	"POST /v1/auth/webauthn/finish":                    loginFinishRequest{},
	"POST /v1/admin/users":                             addUserRequest{},
	"POST /v1/admin/users/{user}/disable":              reasonRequest{},
	"POST /v1/admin/users/{user}/enable":               reasonRequest{},
	"POST /v1/admin/fobs/{serial}/assign":              assignRequest{},
	"POST /v1/admin/fobs/{serial}/lost":                reasonRequest{},
	"POST /v1/admin/fobs/{serial}/revoke":              reasonRequest{},
	"POST /v1/admin/fobs/{serial}/resync":              resyncRequest{},
	"POST /v1/admin/users/{user}/bypass":               bypassRequest{},
	"POST /v1/admin/users/{user}/keys/webauthn/finish": registerFinishRequest{},
	"POST /v1/admin/imports":                           importRequest{},
	"POST /v1/admin/applications":                      addAppRequest{},
	"POST /v1/admin/admins":                            addAdminRequest{},
}

// The document's request bodies name exactly the fields the handlers
// decode (the decoder refuses any other), and only routes that read a
// body have one.
func TestOpenAPIRequestBodies(t *testing.T) {
	doc := loadOpenAPI(t)
	for p, op := range operations(doc) {
		typ, reads := requestTypes[p]
		switch {
		case !reads && op.RequestBody != nil:
			t.Errorf("%s has a request body in the document, but its handler reads none", p)
			continue
		case !reads:
			continue
		case op.RequestBody == nil:
			t.Errorf("%s: no request body in the document", p)
			continue
		}
		mt := op.RequestBody.Value.Content.Get("application/json")
		if mt == nil {
			t.Errorf("%s: no application/json request body", p)
			continue
		}
		schema := mt.Schema.Value
		var documented []string
		for name := range schema.Properties {
			documented = append(documented, name)
		}
		var fields []string
		for _, name := range fieldsOf(reflect.TypeOf(typ)).folded {
			fields = append(fields, name)
		}
		sort.Strings(documented)
		sort.Strings(fields)
		if !slices.Equal(documented, fields) {
			t.Errorf("%s: the document names %v, the handler decodes %v", p, documented, fields)
		}
		if schema.AdditionalProperties.Has == nil || *schema.AdditionalProperties.Has {
			t.Errorf("%s: the body's schema allows other fields, which the handler refuses", p)
		}
	}
	for p := range requestTypes {
		if _, ok := operations(doc)[p]; !ok {
			t.Errorf("requestTypes names %s, which the document does not have", p)
		}
	}
}

// GET /v1/openapi.json serves the embedded document byte for byte, to
// anyone, as JSON that may be cached and revalidated.
func TestOpenAPIServed(t *testing.T) {
	fx := newFixture(t, Config{})
	req := httptest.NewRequest("GET", "/v1/openapi.json", nil)
	rec := httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	h := rec.Header()
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), openAPI) {
		t.Fatalf("%d, %d bytes; want 200 and the %d bytes of server/openapi.json", rec.Code, rec.Body.Len(), len(openAPI))
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := h.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("Cache-Control %q, want it cacheable", cc)
	}
	tag := h.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	req = httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("If-None-Match", tag)
	rec = httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match of its own tag: %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
	req = httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("If-None-Match", `"another"`)
	rec = httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), openAPI) {
		t.Errorf("If-None-Match of another tag: %d, want 200 and the document", rec.Code)
	}
}

// statusNames are the net/http names of the statuses errors are answered
// with.
var statusNames = map[string]int{
	"StatusBadRequest": 400, "StatusUnauthorized": 401, "StatusForbidden": 403, "StatusNotFound": 404,
	"StatusMethodNotAllowed": 405, "StatusConflict": 409, "StatusRequestEntityTooLarge": 413,
	"StatusUnsupportedMediaType": 415, "StatusUnprocessableEntity": 422, "StatusTooManyRequests": 429,
	"StatusInternalServerError": 500, "StatusServiceUnavailable": 503,
}

// answeredErrors reads the server's source for the errors it answers
// with: each errorf(http.StatusX, "code", …) and apiError{Status:
// http.StatusX, Code: "code"}, as "status code".
func answeredErrors(t *testing.T) map[string]bool {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	status := func(e ast.Expr) int {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return 0
		}
		if n, ok := statusNames[sel.Sel.Name]; ok {
			return n
		}
		t.Errorf("status %s: add it to statusNames", sel.Sel.Name)
		return 0
	}
	code := func(e ast.Expr) string {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return ""
		}
		s, _ := strconv.Unquote(lit.Value)
		return s
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "errorf" && len(n.Args) > 1 {
					if s, c := status(n.Args[0]), code(n.Args[1]); s != 0 && c != "" {
						out[fmt.Sprint(s, " ", c)] = true
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "apiError" {
					var s int
					var c string
					for _, el := range n.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						switch k, _ := kv.Key.(*ast.Ident); k.Name {
						case "Status":
							s = status(kv.Value)
						case "Code":
							c = code(kv.Value)
						}
					}
					if s != 0 && c != "" {
						out[fmt.Sprint(s, " ", c)] = true
					}
				}
			}
			return true
		})
	}
	return out
}

// Every error the server answers with is documented under its status,
// and named in docs/api.md; the portal's pages' own errors and the mux's
// (in the document's description) excepted.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for _, op := range operations(doc) {
		for status, r := range op.Responses.Map() {
			mt := r.Value.Content.Get("application/json")
			if mt == nil || len(mt.Schema.Value.AllOf) != 2 {
				continue
			}
			for _, c := range mt.Schema.Value.AllOf[1].Value.Properties["error"].Value.Properties["code"].Value.Enum {
				documented[status+" "+c.(string)] = true
			}
		}
	}
	guide, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	answered := answeredErrors(t)
	if len(answered) < 25 {
		t.Fatalf("only %d errors found in the source: the reading is broken", len(answered))
	}
	portal := map[string]bool{"403 csrf": true, "403 sign_in": true}
	elsewhere := map[string]bool{"404 no_route": true, "405 method_not_allowed": true}
	for e := range answered {
		_, c, _ := strings.Cut(e, " ")
		if portal[e] {
			continue
		}
		if !strings.Contains(string(guide), "`"+c+"`") {
			t.Errorf("docs/api.md does not name the error code %s", c)
		}
		if !documented[e] && !elsewhere[e] {
			t.Errorf("the server answers %s, which server/openapi.json does not list under that status", e)
		}
	}
}
