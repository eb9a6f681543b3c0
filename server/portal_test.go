package server

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// visitor is a browser without a browser: it keeps the portal's cookie
// and the CSRF token of the last page, and follows nothing by itself.
type visitor struct {
	t      *testing.T
	fx     *fixture
	cookie string
	csrf   string
	last   string // the last page's HTML
}

func (fx *fixture) visitor(t *testing.T) *visitor { return &visitor{t: t, fx: fx} }

var (
	csrfField  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)
	secretText = regexp.MustCompile(`id="manual-secret" class="secret">([A-Z2-7 ]+)<`)
)

func (v *visitor) send(req *http.Request) (int, string) {
	v.t.Helper()
	if v.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: v.cookie})
	}
	req.RemoteAddr = "192.0.2.10:4321"
	rec := httptest.NewRecorder()
	v.fx.srv.Handler().ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || !c.Secure || c.Path != "/portal/" {
				v.t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Secure, Path=/portal/", c)
			}
			v.cookie = c.Value
			if c.MaxAge < 0 {
				v.cookie = ""
			}
		}
	}
	body, _ := io.ReadAll(res.Body)
	v.last = string(body)
	if m := csrfField.FindStringSubmatch(v.last); m != nil {
		v.csrf = m[1]
	}
	if res.StatusCode < 300 || res.StatusCode > 399 {
		if csp := res.Header.Get("Content-Security-Policy"); strings.HasPrefix(req.URL.Path, "/portal/") && csp != portalPolicy {
			v.t.Errorf("%s: Content-Security-Policy %q", req.URL.Path, csp)
		}
	}
	return res.StatusCode, v.last
}

func (v *visitor) get(path string) (int, string) {
	v.t.Helper()
	return v.send(httptest.NewRequest("GET", path, nil))
}

// post submits a form with the page's CSRF token, unless the form says
// otherwise.
func (v *visitor) post(path string, form url.Values) (int, string) {
	v.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", v.csrf)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.send(req)
}

// text is a page's words without its markup, for matching.
func text(page string) string {
	return html.UnescapeString(regexp.MustCompile(`\s+`).ReplaceAllString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " "), " "))
}

func (v *visitor) sees(want string) {
	v.t.Helper()
	if !strings.Contains(text(v.last), want) {
		v.t.Fatalf("the page does not say %q:\n%s", want, text(v.last))
	}
}

// linkPath is the path of a link the admin API makes.
func (fx *fixture) link(t *testing.T, user, kind string) string {
	t.Helper()
	path := map[string]string{"enrol": "/invite", "activate": "/phones/activation"}[kind]
	status, m := fx.do(t, "POST", "/v1/admin/users/"+user+path, fx.tokens[verify.HelpDesk], nil)
	if status != http.StatusCreated {
		t.Fatalf("link: %d %v", status, m)
	}
	u, err := url.Parse(m["url"].(string))
	if err != nil || !strings.HasPrefix(m["url"].(string), portalURL+kind+"/") {
		t.Fatalf("link %v", m)
	}
	return u.Path
}

// pairPhone shows a phone app's QR code on the page the visitor is on and
// pairs it with its first code, read from the manual-entry text.
func (v *visitor) pairPhone() string {
	v.t.Helper()
	if status, _ := v.post("/portal/phone", nil); status != http.StatusOK {
		v.t.Fatalf("phone page: %d\n%s", status, text(v.last))
	}
	m := secretText.FindStringSubmatch(v.last)
	if m == nil || !strings.Contains(v.last, `<svg class="qr"`) {
		v.t.Fatalf("no seed or QR code on the page:\n%s", v.last)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	action := regexp.MustCompile(`action="(/portal/phone/\d+/activate)"`).FindStringSubmatch(v.last)
	code, err := totp.GenerateCodeCustom(secret, v.fx.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		v.t.Fatal(err)
	}
	status, _ := v.post(action[1], url.Values{"code": {code}})
	if status != http.StatusSeeOther && status != http.StatusOK {
		v.t.Fatalf("pairing: %d\n%s", status, text(v.last))
	}
	return secret
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (fx *fixture) newUser(t *testing.T, name string) {
	if _, err := fx.desk.AddUser(context.Background(), inventory.User{Name: name}); err != nil {
		t.Fatal(err)
	}
}

func TestEnrolmentThenSignIn(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.newUser(t, "dave")
	v := fx.visitor(t)
	if status, _ := v.get(fx.link(t, "dave", "enrol")); status != http.StatusOK {
		t.Fatalf("enrolment link: %d", status)
	}
	v.sees("Welcome, dave")
	secret := v.pairPhone()
	v.get("/portal/?done=enrolled")
	v.sees("Your first device is set up")
	v.sees("Phone app #1")
	if status, _ := v.post("/portal/signout", nil); status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", status)
	}
	v.get("/portal/")
	v.sees("Sign in")
	// The pairing code was used; the next step's code signs in.
	fx.clock.Advance(30 * time.Second)
	v.post("/portal/signin", url.Values{"username": {"dave"}, "passcode": {codeAt(t, secret, fx.clock.Now())}})
	v.get("/portal/")
	v.sees("My devices")
	entries, _ := fx.store.AuthLog(context.Background(), inventory.AuthFilter{User: "dave"})
	if len(entries) != 1 || entries[0].Transport != "web" || entries[0].App != "portal" || entries[0].Result != "allow" {
		t.Errorf("auth log %+v", entries)
	}
	for _, action := range []string{"user invite", "phone add", "phone activate"} {
		if fx.auditCount(t, action) != 1 {
			t.Errorf("no audit entry %q", action)
		}
	}
}

func TestEnrolmentLinkExpires(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.newUser(t, "dave")
	link := fx.link(t, "dave", "enrol")
	fx.clock.Advance(30*24*time.Hour - time.Minute)
	v := fx.visitor(t)
	if status, _ := v.get(link); status != http.StatusOK {
		t.Fatalf("a link of 29 days: %d", status)
	}
	fx.clock.Advance(time.Minute)
	w := fx.visitor(t)
	if status, _ := w.get(link); status != http.StatusGone {
		t.Fatalf("a link of 30 days: %d", status)
	}
	w.sees("This link has expired")
	// The session the link opened ends with it.
	if status, _ := v.post("/portal/phone", nil); status != http.StatusForbidden {
		t.Errorf("adding a phone app after the link expired: %d %s", status, text(v.last))
	}
}

func TestEnrolmentLinkSingleUse(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.newUser(t, "dave")
	link := fx.link(t, "dave", "enrol")
	first, second := fx.visitor(t), fx.visitor(t)
	first.get(link)
	second.get(link)
	// Opening the link twice uses nothing up: finishing enrolment does.
	first.pairPhone()
	if status, _ := fx.visitor(t).get(link); status != http.StatusGone {
		t.Fatalf("the link after enrolment: %d", status)
	}
	if status, _ := second.post("/portal/phone", nil); status != http.StatusForbidden {
		t.Errorf("a second device through the used link: %d %s", status, text(second.last))
	}
	phones, _ := fx.srv.deps.Desk.PhoneApps(context.Background(), "dave")
	if len(phones) != 1 || phones[0].State != inventory.PhoneActive {
		t.Errorf("phone apps %+v", phones)
	}
	// A newer link replaces an older one.
	older := fx.link(t, "dave", "enrol")
	newer := fx.link(t, "dave", "enrol")
	v := fx.visitor(t)
	if status, _ := v.get(older); status != http.StatusGone {
		t.Errorf("a replaced link: %d", status)
	}
	v.sees("replaced by a newer one")
	if status, _ := v.get(newer); status != http.StatusOK {
		t.Errorf("the newer link: %d", status)
	}
}

func TestActivationLink(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.newUser(t, "erin")
	link := fx.link(t, "erin", "activate")
	status, m := fx.do(t, "POST", "/v1/admin/users/erin/phones/activation", fx.tokens[verify.HelpDesk], nil)
	if status != http.StatusConflict || errorCode(m) != "refused" {
		t.Fatalf("a second activation link while one is live: %d %v", status, m)
	}
	v := fx.visitor(t)
	v.get(link)
	v.sees("Pair your phone app, erin")
	v.pairPhone()
	v.sees("Your phone app is paired")
	if v.cookie != "" {
		t.Error("the activation session outlived the pairing")
	}
	if status, _ := fx.visitor(t).get(link); status != http.StatusGone {
		t.Errorf("the used activation link: %d", status)
	}
	// Used, it leaves room for a new one; so does one that expired.
	fx.link(t, "erin", "activate")
	fx.clock.Advance(24 * time.Hour)
	fx.link(t, "erin", "activate")
}

func TestCSRFRefused(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	v, other := fx.visitor(t), fx.visitor(t)
	v.get("/portal/")
	other.get("/portal/")
	form := url.Values{"username": {"alice"}, "passcode": {fx.code("alice")}}
	for name, token := range map[string]string{"none": "", "another session's": other.csrf, "made up": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		form.Set("csrf", token)
		if status, _ := v.post("/portal/signin", form); status != http.StatusForbidden {
			t.Errorf("%s token: %d", name, status)
		}
		v.sees("did not come from this site")
	}
	if entries, _ := fx.store.AuthLog(context.Background(), inventory.AuthFilter{User: "alice"}); len(entries) != 0 {
		t.Errorf("a refused form reached a decision: %+v", entries)
	}
	// The JSON routes take the token in a header, and refuse without it.
	req := httptest.NewRequest("POST", "/portal/keys/signin/begin", strings.NewReader(`{"username":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	if status, _ := v.send(req); status != http.StatusForbidden {
		t.Errorf("JSON without the header: %d", status)
	}
	delete(form, "csrf")
	if status, _ := v.post("/portal/signin", form); status != http.StatusSeeOther {
		t.Errorf("with the page's token: %d %s", status, text(v.last))
	}
}

func TestSessionExpiry(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	v := fx.visitor(t)
	v.get("/portal/")
	v.post("/portal/signin", url.Values{"username": {"alice"}, "passcode": {fx.code("alice")}})
	v.get("/portal/")
	v.sees("My devices")
	fx.clock.Advance(15*time.Minute + time.Second)
	v.get("/portal/")
	v.sees("Sign in")

	// Used every ten minutes, a session still ends after eight hours.
	fx.clock.Advance(time.Minute)
	v.post("/portal/signin", url.Values{"username": {"alice"}, "passcode": {fx.code("alice")}})
	for i := 0; i < 47; i++ {
		fx.clock.Advance(10 * time.Minute)
		v.get("/portal/")
		v.sees("My devices")
	}
	fx.clock.Advance(10 * time.Minute)
	v.get("/portal/")
	v.sees("Sign in")
}

func TestDeviceOnlyAfterProof(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	v := fx.visitor(t)
	v.get("/portal/")
	if status, _ := v.post("/portal/phone", nil); status != http.StatusForbidden {
		t.Errorf("a phone app without signing in: %d", status)
	}
	v.sees("Sign in first")
	req := httptest.NewRequest("POST", "/portal/keys/register/begin", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", v.csrf)
	if status, body := v.send(req); status != http.StatusForbidden {
		t.Errorf("a key without signing in: %d %s", status, body)
	}
	// A wrong code proves nothing.
	v.post("/portal/signin", url.Values{"username": {"alice"}, "passcode": {"000000"}})
	v.sees("were not accepted")
	if status, _ := v.post("/portal/phone", nil); status != http.StatusForbidden {
		t.Errorf("a phone app after a wrong code: %d", status)
	}
	// An activation session pairs a phone app, but adds no key.
	v.get(fx.link(t, "alice", "activate"))
	req = httptest.NewRequest("POST", "/portal/keys/register/begin", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", v.csrf)
	if status, _ := v.send(req); status != http.StatusForbidden {
		t.Errorf("a key through an activation link: %d", status)
	}
	if phones, _ := fx.srv.deps.Desk.PhoneApps(context.Background(), "alice"); len(phones) != 0 {
		t.Errorf("phone apps %+v", phones)
	}
}

func TestPortalSignInLockout(t *testing.T) {
	cfg := keysConfig()
	cfg.UserRate = -1
	fx := newFixture(t, cfg)
	fx.addUser(t, "alice")
	v := fx.visitor(t)
	v.get("/portal/")
	for i := 0; i < 10; i++ {
		v.post("/portal/signin", url.Values{"username": {"alice"}, "passcode": {"000000"}})
	}
	v.post("/portal/signin", url.Values{"username": {"alice"}, "passcode": {fx.code("alice")}})
	v.sees("were not accepted")
	u, _ := fx.store.User(context.Background(), "alice")
	if !u.Locked() {
		t.Error("ten wrong codes in the portal did not lock the user")
	}
}

func TestPortalReportLost(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.newUser(t, "dave")
	v := fx.visitor(t)
	v.get(fx.link(t, "dave", "enrol"))
	secret := v.pairPhone()
	v.get("/portal/lost/phone/1")
	v.sees("Report your phone app #1 lost?")
	if status, _ := v.post("/portal/lost/phone/1", nil); status != http.StatusSeeOther {
		t.Fatalf("lost: %d %s", status, text(v.last))
	}
	v.get("/portal/?done=lost")
	v.sees("The device is disabled")
	v.sees("lost")
	fx.clock.Advance(30 * time.Second)
	d, err := fx.ver.VerifyUser(context.Background(), "dave", codeAt(t, secret, fx.clock.Now()), verify.Origin{Transport: "test"})
	if err != nil || d.Allow || d.ReasonCode() != "lost" {
		t.Errorf("a code from the lost phone app: %+v %v", d, err)
	}
	if fx.auditCount(t, "phone lost") != 1 {
		t.Error("the report was not audited")
	}
	// Another user's device is not this user's to report.
	fx.addUser(t, "alice")
	if status, _ := v.get("/portal/lost/fob/" + "alice"); status != http.StatusNotFound {
		t.Errorf("another user's fob: %d", status)
	}
}

// postJSON calls one of the portal's script routes, with the page's
// CSRF token in its header.
func (v *visitor) postJSON(path string, body any) (int, map[string]any) {
	v.t.Helper()
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest("POST", path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", v.csrf)
	status, answer := v.send(req)
	return status, decodeAnswer(v.t, []byte(answer))
}

// A security key as the first device: registered through the enrolment
// link, which it uses up, and the user is signed in; the key then signs
// in, and after a test, the counter it shows is the key's.
func TestEnrolmentWithAKey(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.newUser(t, "dave")
	link := fx.link(t, "dave", "enrol")
	v := fx.visitor(t)
	v.get(link)
	status, m := v.postJSON("/portal/keys/register/begin", nil)
	if status != http.StatusOK {
		t.Fatalf("begin: %d %v", status, m)
	}
	k := newTestKey(t, rpID)
	page := v.csrf
	status, m = v.postJSON("/portal/keys/register/finish", map[string]any{"transaction": m["transaction"],
		"credential": k.register(challengeOf(t, m), "https://keydesk.example.edu"), "name": "blue key"})
	if status != http.StatusOK || m["result"] != "ok" || m["next"] != "/portal/?done=enrolled" {
		t.Fatalf("finish: %d %v", status, m)
	}
	v.get("/portal/?done=enrolled")
	v.sees("blue key")
	if v.csrf == page {
		t.Error("the session kept its id and token across the sign-in")
	}
	if status, _ := fx.visitor(t).get(link); status != http.StatusGone {
		t.Errorf("the link after enrolment by key: %d", status)
	}
	// Out, and in with the key.
	v.post("/portal/signout", nil)
	v.get("/portal/")
	status, m = v.postJSON("/portal/keys/signin/begin", map[string]string{"username": "dave"})
	if status != http.StatusOK || m["transaction"] == nil {
		t.Fatalf("sign-in begin: %d %v", status, m)
	}
	status, m = v.postJSON("/portal/keys/signin/finish", map[string]any{"transaction": m["transaction"],
		"credential": k.login(challengeOf(t, m), "https://keydesk.example.edu")})
	if status != http.StatusOK || m["result"] != "allow" {
		t.Fatalf("sign-in finish: %d %v", status, m)
	}
	v.get("/portal/")
	v.sees("My devices")
	status, m = v.postJSON("/portal/keys/1/test", nil)
	if status != http.StatusOK {
		t.Fatalf("test begin: %d %v", status, m)
	}
	_, m = v.postJSON("/portal/keys/test/finish", map[string]any{"transaction": m["transaction"],
		"credential": k.login(challengeOf(t, m), "https://keydesk.example.edu")})
	if m["result"] != "allow" || m["message"] != "Your key works: “blue key”, model unknown, counter 2." {
		t.Errorf("test: %v", m)
	}
	// A key answering from a page of another site is no sign-in.
	v.post("/portal/signout", nil)
	v.get("/portal/")
	_, m = v.postJSON("/portal/keys/signin/begin", map[string]string{"username": "dave"})
	_, m = v.postJSON("/portal/keys/signin/finish", map[string]any{"transaction": m["transaction"],
		"credential": k.login(challengeOf(t, m), "https://keydesk.example.org")})
	if m["result"] != "deny" {
		t.Errorf("from another site: %v", m)
	}
}
