package server

// The portal and WebAuthn in a real browser (internal/browsertest):
// headless Chromium with virtual security keys, on the shape production
// has: RP ID example.edu, the portal at https://keydesk.example.edu:PORT
// and an application's sign-in page at https://login.example.edu:PORT.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/keydesk/keydesk/internal/browsertest"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// site is keydesk and an application, each on its own https origin
// under the test domain, both in one relying party.
type site struct {
	fx     *fixture
	portal string // the portal's address, ending in /portal/
	app    string // the application's page
}

func newSite(t *testing.T) *site {
	t.Helper()
	browsertest.Shared(t) // skips the test when Chromium is missing
	var portalH, appH atomic.Value
	serve := func(h *atomic.Value) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Load().(http.Handler).ServeHTTP(w, r) })
	}
	portalSrv, appSrv := browsertest.NewTLSServer(t, serve(&portalH)), browsertest.NewTLSServer(t, serve(&appH))
	s := &site{
		portal: browsertest.HostURL(portalSrv, "keydesk."+browsertest.Domain) + "/portal/",
		app:    browsertest.HostURL(appSrv, "login."+browsertest.Domain),
	}
	cfg := Config{UserRate: -1, PortalConfig: PortalConfig{RPID: browsertest.Domain, RPName: "Example University",
		Origins: []string{origin(s.portal), s.app}, Portal: true, PortalURL: s.portal}}
	s.fx = newFixture(t, cfg)
	s.fx.clock.Set(time.Now().Truncate(time.Second))
	portalH.Store(s.fx.srv.Handler())
	appH.Store(s.appBackend())
	return s
}

// appBackend is the application's own server: its page, and the routes
// its page calls, which call keydesk with the application's key (and,
// for registration, a help desk console's admin token).
func (s *site) appBackend() http.Handler {
	fx := s.fx
	call := func(w http.ResponseWriter, path, token string, body []byte) {
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.srv.Handler().ServeHTTP(rec, req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}
	read := func(r *http.Request) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&m)
		return m
	}
	user := func(m map[string]json.RawMessage) string {
		var u string
		json.Unmarshal(m["user"], &u)
		return u
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(os.DirFS("testdata/app")))
	mux.HandleFunc("POST /register/begin", func(w http.ResponseWriter, r *http.Request) {
		call(w, "/v1/admin/users/"+user(read(r))+"/keys/webauthn/begin", fx.tokens[verify.HelpDesk], nil)
	})
	mux.HandleFunc("POST /register/finish", func(w http.ResponseWriter, r *http.Request) {
		m := read(r)
		body, _ := json.Marshal(map[string]json.RawMessage{"transaction": m["transaction"], "credential": m["credential"]})
		call(w, "/v1/admin/users/"+user(m)+"/keys/webauthn/finish", fx.tokens[verify.HelpDesk], body)
	})
	for _, route := range []string{"begin", "finish"} {
		mux.HandleFunc("POST /login/"+route, func(w http.ResponseWriter, r *http.Request) {
			body, _ := json.Marshal(read(r))
			call(w, "/v1/auth/webauthn/"+route, fx.appKey, body)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", portalPolicy)
		mux.ServeHTTP(w, r)
	})
}

// shoot keeps a screenshot of the page as a desktop and as a phone shows
// it, in $KEYDESK_SCREENSHOTS.
func shoot(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	tab.Screenshot(t, name+"-desktop")
	tab.SetViewport(t, browsertest.Phone)
	tab.Screenshot(t, name+"-phone")
	tab.SetViewport(t, browsertest.Desktop)
}

// takeRefusals takes the problems a page reported for answers it was
// meant to get (a 403 or a 410), and fails on any other.
func takeRefusals(t *testing.T, tab *browsertest.Tab, statuses ...string) {
	t.Helper()
	for _, p := range tab.Problems() {
		expected := false
		for _, s := range statuses {
			expected = expected || p.Kind == browsertest.BrowserError && strings.Contains(p.Text, "status of "+s)
		}
		if !expected {
			t.Errorf("the page reported %s", p)
		}
	}
}

// TestBrowserPortal clicks through the portal as a user does: an
// enrolment link, a phone app paired with its first code, signing out
// and in with a code, a security key added, tested, renamed and reported
// lost, after which it signs in no more.
func TestBrowserPortal(t *testing.T) {
	s := newSite(t)
	fx, ctx := s.fx, context.Background()
	if _, err := fx.desk.AddUser(ctx, inventory.User{Name: "dave", FullName: "Dave Bowman"}); err != nil {
		t.Fatal(err)
	}
	invite := func(user string) string {
		status, m := fx.do(t, "POST", "/v1/admin/users/"+user+"/invite", fx.tokens[verify.HelpDesk], nil)
		if status != http.StatusCreated {
			t.Fatalf("invite: %d %v", status, m)
		}
		return m["url"].(string)
	}
	tab := browsertest.Shared(t).NewTab(t)

	// The enrolment link, and a phone app as the first device.
	if status := tab.Navigate(t, invite("dave")); status != http.StatusOK {
		t.Fatalf("enrolment link: %d", status)
	}
	tab.WaitText(t, "h1", "Welcome, dave")
	shoot(t, tab, "portal-enrol")
	tab.Submit(t, "#add-phone")
	secret := strings.ReplaceAll(tab.Text(t, "#manual-secret"), " ", "")
	if tab.Text(t, "#manual-account") != "Example University (dave)" || len(secret) != 32 {
		t.Fatalf("manual entry: %q %q", tab.Text(t, "#manual-account"), secret)
	}
	shoot(t, tab, "portal-phone")
	checkQR(t, tab, secret)
	tab.Fill(t, "#code", "000000")
	tab.Submit(t, "#code")
	tab.WaitText(t, "#error", "That is not the code the app shows now")
	shoot(t, tab, "portal-phone-wrong-code")
	tab.Fill(t, "#code", codeAt(t, secret, fx.clock.Now()))
	tab.Submit(t, "#code")
	tab.WaitText(t, "#flash", "Your first device is set up")
	shoot(t, tab, "portal-devices-enrolled")

	// Out, and in again with the next code.
	tab.Submit(t, "#signout")
	tab.WaitText(t, "#flash", "You are signed out")
	shoot(t, tab, "portal-signin")
	fx.clock.Advance(30 * time.Second)
	tab.Fill(t, "#username", "dave")
	tab.Fill(t, "#passcode", codeAt(t, secret, fx.clock.Now()))
	tab.Submit(t, "#passcode")
	tab.WaitText(t, "h1", "My devices")

	// A security key: added, tested, renamed.
	key := tab.AddAuthenticator(t, browsertest.AuthenticatorOptions{Protocol: browsertest.CTAP2})
	tab.Fill(t, "#key-name", "blue key")
	tab.Click(t, "#add-key")
	tab.WaitText(t, "#flash", "Your security key is added")
	tab.WaitText(t, ".key-name", "blue key")
	var id string
	tab.Eval(t, `document.querySelector("[data-test-key]").dataset.testKey`, &id)
	tab.Click(t, "[data-test-key]")
	if got := tab.WaitText(t, "#key-status-"+id, "Your key works"); !strings.Contains(got, "“blue key”") || !strings.Contains(got, "counter 2") {
		t.Errorf("the test says %q", got)
	}
	shoot(t, tab, "portal-devices-key-tested")
	tab.Click(t, "#key-"+id+" details.rename summary")
	tab.Fill(t, "#rename-"+id, "keyring key")
	tab.Submit(t, "#rename-"+id)
	tab.WaitText(t, "#flash", "The key's name is changed")
	tab.WaitText(t, ".key-name", "keyring key")

	// Reported lost, it is disabled at once, and signs in no more.
	tab.ClickNavigate(t, "#key-"+id+" a.danger")
	tab.WaitText(t, "h1", "Report your security key “keyring key” lost?")
	shoot(t, tab, "portal-lost")
	tab.Submit(t, "#confirm-lost")
	tab.WaitText(t, "#flash", "The device is disabled")
	tab.WaitText(t, "#key-"+id, "LOST")
	shoot(t, tab, "portal-devices-lost")
	tab.Submit(t, "#signout")
	tab.Fill(t, "#username", "dave")
	tab.Click(t, "#key-signin")
	tab.WaitText(t, "#key-status", "No security key can sign in for this user name")
	if c := tab.Credentials(t, key); len(c) != 1 || c[0].SignCount != 2 { // one at registration, one at the test
		t.Errorf("the lost key signed again: %+v", c)
	}
	entries, _ := fx.store.AuthLog(ctx, inventory.AuthFilter{User: "dave", Limit: 1})
	if len(entries) != 1 || entries[0].Result != "deny" || entries[0].Transport != "web" {
		t.Errorf("the lost key's sign-in is not logged as denied: %+v", entries)
	}
	if fx.auditCount(t, "key lost") != 1 {
		t.Error("the lost key was not audited")
	}

	// A POST without the form's token is refused.
	var status int
	tab.Eval(t, `fetch("/portal/signin", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
		body: "username=dave&passcode=123456"}).then(r => r.status)`, &status)
	if status != http.StatusForbidden {
		t.Errorf("a POST without a CSRF token: %d", status)
	}
	takeRefusals(t, tab, "403")

	// An expired link says so.
	if _, err := fx.desk.AddUser(ctx, inventory.User{Name: "erin"}); err != nil {
		t.Fatal(err)
	}
	link := invite("erin")
	fx.clock.Advance(31 * 24 * time.Hour)
	if status := tab.Navigate(t, link); status != http.StatusGone {
		t.Errorf("an expired link: %d", status)
	}
	tab.WaitText(t, "#message", "This link has expired")
	shoot(t, tab, "portal-link-expired")
	takeRefusals(t, tab, "410")
}

// checkQR reads the QR code on the page with zbarimg, when it is there:
// the code must hold the otpauth:// URI of the seed the page shows.
func checkQR(t *testing.T, tab *browsertest.Tab, secret string) {
	t.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Log("zbarimg is not installed (apt-get install zbar-tools): the QR code is not read back")
		return
	}
	png := tab.Screenshot(t, "qr-read-back")
	out, err := exec.Command(zbar, "--quiet", "--raw", png).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v", err)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "otpauth://totp/Example%20University:dave?") || !strings.Contains(got, "secret="+secret) ||
		!strings.Contains(got, "digits=6") || !strings.Contains(got, "period=30") || !strings.Contains(got, "issuer=Example+University") {
		t.Errorf("the QR code holds %q", got)
	}
}

// TestBrowserActivationLink pairs a phone app for a user away from the
// desk, on a phone-sized screen.
func TestBrowserActivationLink(t *testing.T) {
	s := newSite(t)
	fx := s.fx
	fx.addUser(t, "frank")
	status, m := fx.do(t, "POST", "/v1/admin/users/frank/phones/activation", fx.tokens[verify.HelpDesk], nil)
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, m)
	}
	tab := browsertest.Shared(t).NewTab(t)
	tab.SetViewport(t, browsertest.Phone)
	tab.Navigate(t, m["url"].(string))
	tab.WaitText(t, "h1", "Pair your phone app, frank")
	shoot(t, tab, "portal-activate")
	tab.Submit(t, "#add-phone")
	secret := strings.ReplaceAll(tab.Text(t, "#manual-secret"), " ", "")
	tab.Fill(t, "#code", codeAt(t, secret, fx.clock.Now()))
	tab.Submit(t, "#code")
	tab.WaitText(t, "#message", "Your phone app is paired")
	shoot(t, tab, "portal-activated")
	if status := tab.Navigate(t, m["url"].(string)); status != http.StatusGone {
		t.Errorf("the used link: %d", status)
	}
	tab.WaitText(t, "#message", "This link was used already")
	takeRefusals(t, tab, "410")
}

// TestBrowserKeysThroughTheAPI runs the application ceremonies from the
// application's own page: a key registered by a help desk console, then
// a sign-in allowed; the same answer posted again denied as a replay;
// another user's key denied.
func TestBrowserKeysThroughTheAPI(t *testing.T) {
	s := newSite(t)
	fx := s.fx
	fx.addUser(t, "alice")
	fx.addUser(t, "bob")
	tab := browsertest.Shared(t).NewTab(t)
	tab.AddAuthenticator(t, browsertest.AuthenticatorOptions{Protocol: browsertest.CTAP2})
	tab.Navigate(t, s.app+"/")
	ceremony := func(button, want string) {
		t.Helper()
		tab.Click(t, button)
		tab.WaitVisible(t, "#status[data-done]")
		if got := tab.Text(t, "#status"); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: %q, want %q", button, got, want)
		}
	}
	ceremony("#register", "Registered key #1 for alice")
	tab.Fill(t, "#username", "bob")
	ceremony("#register", "Registered key #2 for bob")
	tab.Fill(t, "#username", "alice")
	ceremony("#signin", "allow: ok: touch accepted from key #1")
	ceremony("#replay", "deny: replay: the key's answer was used already")
	ceremony("#cross", "deny: unknown_key: no registered key answered: the key that answered is not one of alice's")
	entries, _ := fx.store.AuthLog(context.Background(), inventory.AuthFilter{User: "alice"})
	if len(entries) != 3 || entries[2].Result != "allow" || entries[2].App != "vpn" || entries[2].Transport != "http" {
		t.Errorf("auth log %+v", entries)
	}
}

// TestBrowserAppID signs in with a key registered at the desk over U2F
// under the AppID https://<rp_id>: a U2F virtual key holds the
// registration, and the browser reaches it through the appid extension.
func TestBrowserAppID(t *testing.T) {
	s := newSite(t)
	fx := s.fx
	fx.addUser(t, "carol")
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := priv.PublicKey.ECDH()
	handle := make([]byte, 64)
	rand.Read(handle)
	appID := "https://" + browsertest.Domain
	err = fx.store.Update(context.Background(), func(tx *inventory.Tx) error {
		u, err := tx.User("carol")
		if err != nil {
			return err
		}
		_, err = tx.AddKey(u.ID, inventory.Key{Name: "desk key", KeyHandle: handle, PublicKey: pub.Bytes(), AppID: appID, Certificate: []byte("cert")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tab := browsertest.Shared(t).NewTab(t)
	key := tab.AddAuthenticator(t, browsertest.AuthenticatorOptions{Protocol: browsertest.U2F})
	tab.AddCredential(t, key, browsertest.Credential{ID: handle, RPID: appID, PrivateKey: priv})
	tab.Navigate(t, s.app+"/")
	tab.Fill(t, "#username", "carol")
	tab.Click(t, "#signin")
	tab.WaitVisible(t, "#status[data-done]")
	if got := tab.Text(t, "#status"); got != `allow: ok: touch accepted from key #1 "desk key"` {
		t.Fatalf("appid sign-in: %q", got)
	}
	// And in the portal, the same key signs carol in.
	portal := browsertest.Shared(t).NewTab(t)
	k2 := portal.AddAuthenticator(t, browsertest.AuthenticatorOptions{Protocol: browsertest.U2F})
	portal.AddCredential(t, k2, browsertest.Credential{ID: handle, RPID: appID, PrivateKey: priv, SignCount: 5})
	portal.Navigate(t, s.portal)
	portal.Fill(t, "#username", "carol")
	portal.Click(t, "#key-signin")
	portal.WaitText(t, "h1", "My devices")
	shoot(t, portal, "portal-devices-u2f")
}

// TestBrowserWithoutJavaScript signs in with a code and pairs a phone
// app with scripts off: the passcode paths need none, and the key
// buttons, which do, are not shown.
func TestBrowserWithoutJavaScript(t *testing.T) {
	s := newSite(t)
	fx := s.fx
	fx.addUser(t, "gina")
	tab := browsertest.Shared(t).NewTab(t)
	err := chromedp.Do(tab.Context(), chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	tab.Navigate(t, s.portal)
	var shown bool
	tab.Eval(t, `!document.getElementById("key-signin").hidden`, &shown)
	if shown {
		t.Error("the key button is shown without JavaScript")
	}
	tab.Fill(t, "#username", "gina")
	tab.Fill(t, "#passcode", fx.code("gina"))
	tab.Submit(t, "#passcode")
	tab.WaitText(t, "h1", "My devices")
	tab.Submit(t, "#add-phone")
	secret := strings.ReplaceAll(tab.Text(t, "#manual-secret"), " ", "")
	tab.Fill(t, "#code", codeAt(t, secret, fx.clock.Now()))
	tab.Submit(t, "#code")
	tab.WaitText(t, "#flash", "Your phone app is paired")
	shoot(t, tab, "portal-devices-nojs")
}
