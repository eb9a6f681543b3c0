package browsertest

import (
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestNotInstalled(t *testing.T) {
	_, err := launch(Options{ExecPath: "/nonexistent/chromium"})
	if !errors.Is(err, errNotInstalled) || err.Error() != "chromium not installed: apt-get install chromium" {
		t.Fatalf("launch without a browser: %v", err)
	}
}

// Close leaves no process behind, whichever group or session it ran in,
// and no profile.
func TestCloseStopsEveryProcess(t *testing.T) {
	b := Start(t, Options{})
	tab := b.NewTab(t)
	tab.Navigate(t, NewServer(t, document("<p>hello</p>", "")).URL)
	if n := len(b.processes()); n < 3 {
		t.Fatalf("%d processes found with the profile; the check would miss leftovers", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if left := b.processes(); len(left) != 0 {
		t.Errorf("still running: %v", left)
	}
	if _, err := os.Stat(b.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile %s: %v", b.dir, err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

// names finds the profile folder however Chromium wrote its command
// line, and not a folder whose name only starts the same.
func TestNames(t *testing.T) {
	const dir = "/tmp/keydesk-chromium-12"
	for _, tc := range []struct {
		cmdline string
		want    bool
	}{
		{"chromium\x00--user-data-dir=/tmp/keydesk-chromium-12\x00--headless\x00", true},
		{"chromium --type=renderer --user-data-dir=/tmp/keydesk-chromium-12 --lang=en-US", true},
		{"crashpad\x00--database=/tmp/keydesk-chromium-12/config/chromium/Crash Reports\x00", true},
		{"chromium\x00--user-data-dir=/tmp/keydesk-chromium-12", true},
		{"chromium\x00--user-data-dir=/tmp/keydesk-chromium-123\x00", false},
		{"chromium\x00--user-data-dir=/tmp/keydesk-chromium-123\x00--x=/tmp/keydesk-chromium-12/y\x00", true},
		{"bash\x00", false},
	} {
		if got := names([]byte(tc.cmdline), dir); got != tc.want {
			t.Errorf("names(%q) = %v", tc.cmdline, got)
		}
	}
}

// document serves body as a whole document under the given CSP ("" for none).
func document(body, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		if csp != "" {
			w.Header().Set("Content-Security-Policy", csp)
		}
		fmt.Fprintf(w, "<!doctype html><html lang=en><head><meta charset=utf-8><title>t</title></head><body>%s</body></html>", body)
	})
}

func TestPolicyViolations(t *testing.T) {
	srv := NewServer(t, document(`<script>document.title = "ran"</script>
<p id=p style="color: red" onclick="alert(1)">text</p>
<img src="http://elsewhere.example/x.png" alt="">`, policy))
	tab := Shared(t).NewTab(t)
	tab.Navigate(t, srv.URL)

	blocked := map[string]string{} // directive -> what
	for _, p := range tab.WaitProblems(t, PolicyViolation, 3) {
		if p.Kind == PolicyViolation {
			blocked[p.Directive] = p.Blocked
		}
	}
	want := map[string]string{
		"script-src-elem": "inline",
		"style-src-attr":  "inline",
		"img-src":         "http://elsewhere.example/x.png",
	}
	for d, what := range want {
		if blocked[d] != what {
			t.Errorf("%s: reported %q, want %q (all: %v)", d, blocked[d], what, blocked)
		}
	}
	var title string
	tab.Eval(t, "document.title", &title)
	if title == "ran" {
		t.Error("the inline script ran")
	}
}

// A report-only policy blocks nothing, but its violations are reported.
func TestReportOnlyViolation(t *testing.T) {
	srv := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy-Report-Only", "script-src 'self'")
		fmt.Fprint(w, `<!doctype html><title>t</title><p id=p>x</p><script>document.getElementById("p").textContent = "ran"</script>`)
	}))
	tab := Shared(t).NewTab(t)
	tab.Navigate(t, srv.URL)
	tab.WaitText(t, "#p", "ran")
	ps := tab.WaitProblems(t, PolicyViolation, 1)
	if len(ps) == 0 || ps[0].Kind != PolicyViolation || !strings.Contains(ps[0].Text, "would block inline (report only)") {
		t.Fatalf("problems: %v", ps)
	}
}

// spy stands between a tab and its test to see what the end-of-test
// check would say.
type spy struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (s *spy) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors = append(s.errors, fmt.Sprintf(format, args...))
}

func (s *spy) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *spy) end() []string {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	return s.errors
}

// Problems nobody took fail the test when it ends: a page that breaks its
// own policy, or throws, fails its test even when the test did not look.
func TestUntakenProblemsFailTheTest(t *testing.T) {
	srv := NewServer(t, document(`<p id=p>x</p><script src="/app.js"></script>`, "script-src 'self'"))
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app.js" {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `console.error("no such user", 42); try { eval("1") } catch (e) {}; throw new TypeError("boom");`)
			return
		}
		document(`<p id=p>x</p><script src="/app.js"></script>`, "script-src 'self'").ServeHTTP(w, r)
	})
	s := &spy{TB: t}
	tab := Shared(t).NewTab(s)
	tab.Navigate(t, srv.URL)
	for _, k := range []Kind{ConsoleError, PolicyViolation, Exception} {
		if err := tab.waitProblems(k, 1); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	got := strings.Join(s.end(), "\n")
	for _, want := range []string{
		"console: no such user 42 at " + srv.URL + "/app.js:1",
		"csp: script-src blocked eval",
		"exception: Uncaught TypeError: boom",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the end-of-test check said:\n%s\nwant a line with %q", got, want)
		}
	}
}

var form = template.Must(template.New("").Parse(`<form method="post" action="/devices">
<input type="hidden" name="csrf" value="{{.}}">
<label for="name">Name</label><input id="name" name="name" value="old">
<button id="save">Save</button></form><a id="back" href="/devices">Devices</a>`))

// The form helpers work as a person does: type, press the button, land on
// the page the server redirects to.
func TestFormHelpers(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	srv := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		switch {
		case r.Method == "POST" && r.URL.Path == "/devices":
			r.ParseForm()
			mu.Lock()
			posted = append(posted, r.PostForm.Get("csrf")+" "+r.PostForm.Get("name"))
			mu.Unlock()
			http.Redirect(w, r, "/devices?saved=1", http.StatusSeeOther)
		case r.URL.Path == "/devices":
			fmt.Fprintf(w, "<!doctype html><title>Devices</title><h1 id=h>Saved: %s</h1>", template.HTMLEscapeString(r.URL.Query().Get("saved")))
		default:
			w.Write([]byte("<!doctype html><title>Edit</title>"))
			form.Execute(w, "token-123")
		}
	}))
	tab := Shared(t).NewTab(t)
	if st := tab.Navigate(t, srv.URL+"/edit"); st != 200 {
		t.Fatalf("status %d", st)
	}
	tab.Fill(t, "#name", "Alice's key")
	if v := tab.Value(t, "#name"); v != "Alice's key" {
		t.Fatalf("the field holds %q", v)
	}
	if st := tab.Submit(t, "#name"); st != 200 {
		t.Errorf("status after submitting %d", st)
	}
	if got := tab.Text(t, "#h"); got != "Saved: 1" {
		t.Errorf("heading %q", got)
	}
	if u := tab.URL(t); u != srv.URL+"/devices?saved=1" {
		t.Errorf("at %s", u)
	}
	if st := tab.Navigate(t, srv.URL+"/edit"); st != 200 {
		t.Fatal(st)
	}
	tab.Fill(t, "#name", "second")
	tab.Click(t, "#save")
	tab.WaitText(t, "#h", "Saved")
	if st := tab.Navigate(t, srv.URL+"/edit"); st != 200 {
		t.Fatal(st)
	}
	if st := tab.ClickNavigate(t, "#back"); st != 200 {
		t.Errorf("following the link: %d", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(posted, "|") != "token-123 Alice's key|token-123 second" {
		t.Errorf("the server got %q", posted)
	}
}

// Navigate gives the status of the page it lands on, and fails at once
// for a page that cannot load.
func TestNavigate(t *testing.T) {
	srv := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/gone", http.StatusFound)
		case "/gone":
			http.Error(w, "no such device", http.StatusNotFound)
		default:
			fmt.Fprint(w, "<!doctype html><title>t</title>")
		}
	}))
	tab := Shared(t).NewTab(t)
	if st := tab.Navigate(t, srv.URL+"/"); st != 200 {
		t.Errorf("status %d, want 200", st)
	}
	if st := tab.Navigate(t, srv.URL+"/old"); st != 404 {
		t.Errorf("status %d, want 404", st)
	}
	// The 404 is logged as a failed load; this test meant it.
	for _, p := range tab.Problems() {
		if !strings.Contains(p.Text, "404") {
			t.Errorf("unexpected: %s", p)
		}
	}

	s := &fatalSpy{TB: t}
	start := time.Now()
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine, as it ends a test
		defer close(done)
		tab.Navigate(s, "http://nowhere."+Domain+".invalid/")
	}()
	<-done
	if !strings.Contains(s.fatal, "net::ERR_NAME_NOT_RESOLVED") || time.Since(start) > 5*time.Second {
		t.Errorf("after %v: %q", time.Since(start), s.fatal)
	}
}

// fatalSpy keeps the message of a Fatalf instead of failing the test.
type fatalSpy struct {
	testing.TB
	fatal string
}

func (s *fatalSpy) Fatalf(format string, args ...any) {
	s.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Tabs share no cookies: each test signs in afresh.
func TestTabsShareNoCookies(t *testing.T) {
	srv := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			fmt.Fprint(w, "<!doctype html><title>t</title><p id=p>new</p>")
			return
		}
		fmt.Fprintf(w, "<!doctype html><title>t</title><p id=p>%s</p>", template.HTMLEscapeString(c.Value))
	}))
	b := Shared(t)
	one, two := b.NewTab(t), b.NewTab(t)
	one.Navigate(t, srv.URL)
	one.Navigate(t, srv.URL)
	if got := one.Text(t, "#p"); got != "s1" {
		t.Fatalf("the first tab kept no cookie: %q", got)
	}
	two.Navigate(t, srv.URL)
	if got := two.Text(t, "#p"); got != "new" {
		t.Errorf("the second tab had the first one's cookie: %q", got)
	}
}

// Only the certificate of NewTLSServer is trusted, not any self-signed one.
func TestTLSServer(t *testing.T) {
	ours := NewTLSServer(t, document("<p id=p>secure</p>", ""))
	if !strings.HasPrefix(ours.URL, "https://localhost:") {
		t.Fatalf("URL %s", ours.URL)
	}
	tab := Shared(t).NewTab(t)
	tab.Navigate(t, ours.URL)
	var secure bool
	tab.Eval(t, "window.isSecureContext && location.protocol === 'https:'", &secure)
	if !secure || tab.Text(t, "#p") != "secure" {
		t.Fatal("our https page is not a secure context")
	}

	theirs := httptest.NewUnstartedServer(document("<p>x</p>", ""))
	theirs.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	theirs.StartTLS()
	defer theirs.Close()
	err := chromedp.Do(tab.Context(), chromedp.Navigate(theirs.URL))
	if err == nil || !strings.Contains(err.Error(), "ERR_CERT") {
		t.Errorf("another self-signed certificate: %v", err)
	}
}

// Screenshots of the test page at both sizes, full page, at the device's
// pixel density. KEYDESK_SCREENSHOTS=DIR keeps them.
func TestScreenshots(t *testing.T) {
	rp := newRelyingParty(t, site{})
	tab := Shared(t).NewTab(t)
	for _, tc := range []struct {
		name  string
		view  Viewport
		width int // in device pixels
	}{
		{"rp-desktop", Desktop, 1280},
		{"rp-phone", Phone, 390 * 3},
	} {
		tab.SetViewport(t, tc.view)
		tab.Navigate(t, rp.url+"/")
		var inner int
		tab.Eval(t, "window.innerWidth", &inner)
		if inner != int(tc.view.Width) {
			t.Errorf("%s: laid out %d CSS pixels wide, want %d", tc.name, inner, tc.view.Width)
		}
		path := tab.Screenshot(t, tc.name)
		if w := pngSize(t, path).X; w != tc.width {
			t.Errorf("%s: %d pixels wide, want %d", filepath.Base(path), w, tc.width)
		}
	}

	// The whole page, not the viewport's worth of it.
	tab.SetViewport(t, Desktop)
	tab.Navigate(t, NewServer(t, document(`<div style="height: 3000px">tall</div>`, "")).URL)
	tab.SetScreenshotDir(t.TempDir())
	if h := pngSize(t, tab.Screenshot(t, "tall")).Y; h < 3000 {
		t.Errorf("a 3000px page shot %dpx high", h)
	}
}

func pngSize(t *testing.T, path string) image.Point {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img.Bounds().Size()
}
