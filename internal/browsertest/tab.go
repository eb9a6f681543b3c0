package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Tab is one page of the browser, in a browser context of its own: cookies,
// storage and virtual authenticators are not shared with other tabs. Its
// methods fail the test they are given when a step fails or times out.
type Tab struct {
	ctx     context.Context
	cancel  context.CancelFunc
	timeout time.Duration

	mu       sync.Mutex
	problems []Problem
	reported chan struct{} // closed when a problem is added
	shotDir  string
	webauthn bool // the WebAuthn domain is on
	keys     map[AuthenticatorID]Protocol
}

// NewTab opens a tab, laid out as [Desktop] and closed in t.Cleanup. When
// the test ends, the console errors and Content Security Policy
// violations the tab saw and nobody took with [Tab.Problems] fail the
// test: a page that breaks its own policy is a defect even when the test
// did not look.
func (b *Browser) NewTab(t testing.TB) *Tab {
	t.Helper()
	tab := &Tab{timeout: b.timeout}
	tab.ctx, tab.cancel = chromedp.NewContext(b.ctx,
		chromedp.WithNewBrowserContext(),
		chromedp.WithListener(tab.listen))
	t.Cleanup(func() {
		chromedp.Cancel(tab.ctx) // closes the tab and its browser context, and waits
		for _, p := range tab.Problems() {
			t.Errorf("browsertest: the page reported %s", p)
		}
	})
	// As with the browser, the first step binds the tab's life to the
	// context it runs in: the tab's own, with a timer for a bound.
	slow := time.AfterFunc(tab.timeout, tab.cancel)
	err := chromedp.Do(tab.ctx, chromedp.Func(watchPolicy))
	slow.Stop()
	if err != nil {
		tab.fatal(t, "opening a tab", err)
	}
	// Headless Chromium's own window is an odd 780×493; screenshots are
	// the same size run to run and machine to machine from the start.
	tab.SetViewport(t, Desktop)
	return tab
}

// Context is the tab's chromedp context, for steps this package has no
// method for: chromedp.Do(tab.Context(), ...).
func (tab *Tab) Context() context.Context { return tab.ctx }

// do runs the steps within the tab's timeout and fails t on an error,
// naming what the test was doing and what the page had complained of.
func (tab *Tab) do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, tab.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tab.fatal(t, what, err)
	}
}

func run[T any](t testing.TB, tab *Tab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, tab.timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tab.fatal(t, what, err)
	}
	return v
}

func (tab *Tab) fatal(t testing.TB, what string, err error) {
	t.Helper()
	tab.mu.Lock()
	var seen string
	for _, p := range tab.problems {
		seen += "\n\t" + p.String()
	}
	tab.mu.Unlock()
	if seen != "" {
		seen = "\nthe page reported:" + seen
	}
	t.Fatalf("browsertest: %s: %v%s", what, err, seen)
}

// Navigate loads url, waits for its load event and returns the HTTP status
// of the document (after redirects). A page that cannot load fails the
// test at once, with the browser's reason (net::ERR_...).
func (tab *Tab) Navigate(t testing.TB, url string) int {
	t.Helper()
	// chromedp.NavigateResponse waits out its timeout when the load fails,
	// so the status comes from the page's own navigation timing instead
	// (Navigation Timing 2, responseStatus).
	tab.do(t, "loading "+url, chromedp.Navigate(url))
	return run(t, tab, "reading the status of "+url, chromedp.Evaluate[int](
		`performance.getEntriesByType("navigation")[0]?.responseStatus ?? 0`))
}

// Click clicks the first element that the CSS selector sel matches, once
// it is visible. It does not wait for what the click starts; follow it
// with [Tab.WaitVisible] or [Tab.WaitText].
func (tab *Tab) Click(t testing.TB, sel string) {
	t.Helper()
	tab.do(t, "clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// ClickNavigate clicks sel, waits for the page it leads to and returns the
// HTTP status of that page's document.
func (tab *Tab) ClickNavigate(t testing.TB, sel string) int {
	t.Helper()
	return tab.navigating(t, "clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// Fill types value into the field sel as a person would, key by key,
// after emptying it.
func (tab *Tab) Fill(t testing.TB, sel, value string) {
	t.Helper()
	// chromedp's SetValue reports a failure when the value it sets is
	// empty, so the field is emptied by hand.
	q, _ := json.Marshal(sel)
	tab.do(t, "filling "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%s).value = ''", q)),
		chromedp.SendKeys(chromedp.CSS(sel), value))
}

// Submit submits the form that holds sel (the form itself, or a field or
// button in it), waits for the page the server answers with and returns
// its HTTP status. A form whose submission a script takes over loads no
// page; click its button with [Tab.Click] instead.
func (tab *Tab) Submit(t testing.TB, sel string) int {
	t.Helper()
	return tab.navigating(t, "submitting "+sel, chromedp.Submit(chromedp.CSS(sel)))
}

func (tab *Tab) navigating(t testing.TB, what string, step chromedp.Action[chromedp.Void]) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, tab.timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, step)
	if err != nil {
		tab.fatal(t, what, err)
	}
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// Text is the text of the first element sel matches, as a person sees it
// (innerText: hidden parts left out), once the element is visible.
func (tab *Tab) Text(t testing.TB, sel string) string {
	t.Helper()
	return run(t, tab, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// Value is the current value of the form field sel.
func (tab *Tab) Value(t testing.TB, sel string) string {
	t.Helper()
	return run(t, tab, "reading the value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// URL is the address of the page the tab shows.
func (tab *Tab) URL(t testing.TB) string {
	t.Helper()
	return run(t, tab, "reading the address", chromedp.Location())
}

// WaitVisible waits until an element matching sel is shown.
func (tab *Tab) WaitVisible(t testing.TB, sel string) {
	t.Helper()
	tab.do(t, "waiting for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// WaitText waits until the text of the first element sel matches holds
// want, and returns that text. The page may be replaced meanwhile, as
// when a click submits a form: the wait goes on in the new one.
func (tab *Tab) WaitText(t testing.TB, sel, want string) string {
	t.Helper()
	const pred = `(sel, want) => { const e = document.querySelector(sel); return e && e.innerText.includes(want) ? e.innerText : null; }`
	ctx, cancel := context.WithTimeout(tab.ctx, tab.timeout)
	defer cancel()
	for {
		text, err := chromedp.Run(ctx, chromedp.PollFunction[string](pred,
			chromedp.WithPollingArgs(sel, want), chromedp.WithPollingMutation()))
		if err == nil {
			return text
		}
		// A navigation ends the document the poll ran in; anything else,
		// or the end of the time, ends the wait.
		if ctx.Err() != nil || !replaced(err) {
			tab.fatal(t, fmt.Sprintf("waiting for %q in %s", want, sel), err)
		}
	}
}

// replaced tells the errors DevTools gives for a script whose document
// went away under it.
func replaced(err error) bool {
	for _, s := range []string{"navigated or closed", "Cannot find context", "Execution context was destroyed"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// Eval runs the JavaScript expression in the page, waits for it when it is
// a promise, and decodes its value, as JSON, into out (nil: ignored).
func (tab *Tab) Eval(t testing.TB, expr string, out any) {
	t.Helper()
	raw := run(t, tab, "running "+expr, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if out == nil {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("browsertest: the value of %s: %v", expr, err)
	}
}

// Viewport is the size of the window a page is laid out in.
type Viewport struct {
	Width, Height int64   // CSS pixels
	Scale         float64 // device pixels per CSS pixel; 1 when zero
	Mobile        bool    // a phone: meta viewport honoured, touch events, no scrollbars
}

var (
	// Desktop is a laptop screen.
	Desktop = Viewport{Width: 1280, Height: 800, Scale: 1}
	// Phone is a current phone held upright (390×844 CSS pixels, three
	// device pixels to each).
	Phone = Viewport{Width: 390, Height: 844, Scale: 3, Mobile: true}
)

// SetViewport lays the page out for v from now on; a page already shown
// is laid out again.
func (tab *Tab) SetViewport(t testing.TB, v Viewport) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.Scale)}
	if v.Scale == 0 {
		opts[0] = chromedp.EmulateScale(1)
	}
	if v.Mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	tab.do(t, "setting the viewport", chromedp.EmulateViewport(v.Width, v.Height, opts...))
}

// ScreenshotEnv names the folder screenshots are kept in. Unset, each
// test's screenshots go to a temporary folder removed after it.
const ScreenshotEnv = "KEYDESK_SCREENSHOTS"

var shotName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Screenshot saves the whole page, beyond the viewport, as name.png and
// returns the file's path. The folder is $KEYDESK_SCREENSHOTS when set
// (created if need be), else a temporary one; [Tab.SetScreenshotDir]
// overrides both.
func (tab *Tab) Screenshot(t testing.TB, name string) string {
	t.Helper()
	if !shotName.MatchString(name) {
		t.Fatalf("browsertest: screenshot name %q: letters, digits, dot, dash and underscore only", name)
	}
	png := run(t, tab, "taking screenshot "+name, chromedp.FullScreenshot(100))
	dir := tab.screenshotDir(t)
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// SetScreenshotDir makes the tab save its screenshots in dir.
func (tab *Tab) SetScreenshotDir(dir string) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.shotDir = dir
}

func (tab *Tab) screenshotDir(t testing.TB) string {
	t.Helper()
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if tab.shotDir == "" {
		tab.shotDir = os.Getenv(ScreenshotEnv)
	}
	if tab.shotDir == "" {
		tab.shotDir = t.TempDir()
	}
	if err := os.MkdirAll(tab.shotDir, 0o755); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	return tab.shotDir
}

// watchPolicy reports every securitypolicyviolation event of every page
// the tab loads, from a world of its own that page scripts cannot see or
// silence, through a binding only that world has.
func watchPolicy(ctx context.Context, target *chromedp.Target) error {
	if _, err := cdp.Call(ctx, target, runtime.AddBinding, runtime.AddBindingParams{
		Name: cspBinding, ExecutionContextName: world,
	}); err != nil {
		return err
	}
	_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: cspWatcher, WorldName: world,
	})
	return err
}

const (
	world      = "browsertest"
	cspBinding = "browsertestPolicyViolation"
	// The event's fields are those of CSP3 §5.2 (SecurityPolicyViolationEvent).
	cspWatcher = `window.addEventListener("securitypolicyviolation", (e) => {
  ` + cspBinding + `(JSON.stringify({
    directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
    line: e.lineNumber, sample: e.sample, disposition: e.disposition, page: e.documentURI,
  }));
}, true);`
)
