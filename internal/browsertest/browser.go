// Package browsertest drives Debian's Chromium, headless, for tests of pages
// and WebAuthn ceremonies: a tab per test, each in its own browser context
// (no cookies shared), screenshots, the console errors and Content Security
// Policy violations a page causes, and the DevTools virtual authenticators
// that stand in for security keys.
//
// One browser per test binary is enough; tests share it through [Shared]
// and a TestMain that calls [Run], each with its own [Tab]:
//
//	func TestMain(m *testing.M) { os.Exit(browsertest.Run(m)) }
//
//	func TestSignIn(t *testing.T) {
//		tab := browsertest.Shared(t).NewTab(t)
//		tab.Navigate(t, srv.URL+"/portal/")
//		tab.Fill(t, "#username", "alice")
//		tab.Submit(t, "form")
//		tab.WaitVisible(t, "#devices")
//		tab.Screenshot(t, "portal-devices")
//	}
//
// The browser reaches only this machine: localhost and the test [Domain]
// lead to 127.0.0.1, every other name resolves to nothing, and the
// background services that would call home are off.
//
// A package using both this and testbin wraps one in the other:
// os.Exit(browsertest.Run(testbin.Wrap(m))).
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	// Chromium is where Debian's chromium package puts the browser.
	Chromium   = "/usr/bin/chromium"
	installMsg = "chromium not installed: apt-get install chromium"
)

// Options say how to start a browser. The zero value is ready to use.
type Options struct {
	// ExecPath is the browser to run; [Chromium] when empty.
	ExecPath string
	// Timeout bounds each step a [Tab] takes (a navigation, a click, a
	// wait), so a page that never answers fails its test instead of hanging
	// the test binary; 10 seconds when zero.
	Timeout time.Duration
}

// Browser is a running Chromium. Its methods may be called from tests
// running in parallel; each [Tab] belongs to one test.
type Browser struct {
	ctx     context.Context // the browser's first context: a blank tab kept open
	cancel  context.CancelFunc
	stop    context.CancelFunc // the allocator's, which waits for the process
	dir     string             // --user-data-dir, ours alone
	timeout time.Duration

	mu sync.Mutex // held by Close

	outMu sync.Mutex
	out   bytes.Buffer // what Chromium printed, for the failure message
}

// flags are what Chromium needs to run as root on a machine whose only
// network is loopback. Without the background-networking ones it opens
// connections to Google's services, many at a time, at every start.
var flags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true), // the sandbox refuses to run as root
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-extensions", true),
	chromedp.Flag("disable-default-apps", true),
	chromedp.Flag("disable-breakpad", true),
	chromedp.Flag("disable-crash-reporter", true),
	chromedp.Flag("disable-client-side-phishing-detection", true),
	chromedp.Flag("disable-domain-reliability", true),
	chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication"),
	chromedp.Flag("metrics-recording-only", true),
	chromedp.Flag("no-pings", true),
	chromedp.Flag("no-proxy-server", true),
	chromedp.Flag("password-store", "basic"),
	chromedp.Flag("use-mock-keychain", true),
	chromedp.Flag("mute-audio", true),
	chromedp.Flag("hide-scrollbars", true), // screenshots the same run to run
	// The test domain is this machine, and any other host fails at once,
	// so neither a page nor the browser itself reaches beyond it.
	chromedp.Flag("host-resolver-rules", "MAP "+Domain+" 127.0.0.1, MAP *."+Domain+" 127.0.0.1, "+
		"MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"),
}

// Start starts a browser for one test and stops it, with every process it
// started, in t.Cleanup. It skips the test when Chromium is not installed
// (`make deps` installs it).
func Start(t testing.TB, opts Options) *Browser {
	t.Helper()
	b, err := launch(opts)
	if errors.Is(err, errNotInstalled) {
		t.Skip(installMsg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

var errNotInstalled = errors.New(installMsg)

func launch(opts Options) (*Browser, error) {
	path := opts.ExecPath
	if path == "" {
		path = Chromium
	}
	if _, err := exec.LookPath(path); err != nil {
		return nil, errNotInstalled
	}
	dir, err := os.MkdirTemp("", "keydesk-chromium-")
	if err != nil {
		return nil, fmt.Errorf("browsertest: %w", err)
	}
	_, pin, err := localhostCert()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("browsertest: %w", err)
	}
	b := &Browser{dir: dir, timeout: opts.Timeout}
	if b.timeout == 0 {
		b.timeout = 10 * time.Second
	}
	alloc := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		// Chromium's crash handler keeps its database under the config
		// folder, ~/.config/chromium otherwise.
		chromedp.Env("XDG_CONFIG_HOME=" + filepath.Join(dir, "config")),
		chromedp.CombinedOutput(lockedWriter{b}),
		// Trusts the certificate of NewTLSServer, and only it.
		chromedp.Flag("ignore-certificate-errors-spki-list", pin),
	}, flags...)
	actx, stop := chromedp.NewExecAllocator(context.Background(), alloc...)
	ctx, cancel := chromedp.NewContext(actx)
	b.ctx, b.cancel, b.stop = ctx, cancel, stop

	// The first step binds the browser's life to the context it runs in,
	// so it runs in the browser's own; a timer bounds the start instead.
	slow := time.AfterFunc(30*time.Second, cancel)
	err = chromedp.Do(ctx)
	slow.Stop()
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("browsertest: starting %s: %w\n%s", path, err, b.output())
	}
	return b, nil
}

// Close stops the browser and every process it started, and removes its
// profile. It is safe to call more than once.
func (b *Browser) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel == nil {
		return nil
	}
	// A graceful close first: it lets Chromium end its own children.
	closing, done := context.WithTimeout(b.ctx, 5*time.Second)
	chromedp.Cancel(closing)
	done()
	b.cancel()
	b.stop()
	b.cancel, b.stop = nil, nil
	if left := b.sweep(); left > 0 {
		return fmt.Errorf("browsertest: %d chromium processes outlived the browser", left)
	}
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("browsertest: %w", err)
	}
	return nil
}

// sweep kills what still runs with our profile, whatever its process
// group (the crash handler starts a session of its own), until a look
// finds none; it returns how many it found after the first look. The
// profile folder is ours alone, so nothing else is touched.
func (b *Browser) sweep() int {
	var found int
	for pass := 0; pass < 50; pass++ {
		pids := b.processes()
		if len(pids) == 0 {
			return 0
		}
		if pass > 0 {
			found = len(pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond) // a killed process leaves /proc when reaped
	}
	return found
}

// processes lists the live processes whose command line names our
// profile folder: Chromium passes --user-data-dir to every child, and the
// crash handler's database is under XDG_CONFIG_HOME, which is in it too.
// Children rewrite their command line as one string, so the folder may
// end at a space as well as at a NUL. A zombie has an empty command line.
func (b *Browser) processes() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && names(cmdline, b.dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func names(cmdline []byte, dir string) bool {
	for rest := cmdline; ; {
		i := bytes.Index(rest, []byte(dir))
		if i < 0 {
			return false
		}
		rest = rest[i+len(dir):]
		if len(rest) == 0 || rest[0] == 0 || rest[0] == ' ' || rest[0] == '/' {
			return true
		}
	}
}

// lockedWriter keeps what Chromium prints, for the error when it fails.
type lockedWriter struct{ b *Browser }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.b.outMu.Lock()
	defer w.b.outMu.Unlock()
	if w.b.out.Len() < 64<<10 {
		w.b.out.Write(p)
	}
	return len(p), nil
}

func (b *Browser) output() string {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	return b.out.String()
}

// shared is the browser of the test binary; [Run] closes it.
var shared struct {
	once sync.Once
	b    *Browser
	err  error
}

// Shared is one browser for the whole test binary, started at the first
// call. It skips the test when Chromium is not installed. The TestMain of
// a package that uses it calls [Run], which stops it.
func Shared(t testing.TB) *Browser {
	t.Helper()
	shared.once.Do(func() { shared.b, shared.err = launch(Options{}) })
	if errors.Is(shared.err, errNotInstalled) {
		t.Skip(installMsg)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.b
}

// Runner is what a TestMain runs: *testing.M is one.
type Runner interface{ Run() int }

// Run runs the tests, then stops the [Shared] browser if they started it.
// A TestMain calls os.Exit(browsertest.Run(m)).
func Run(m Runner) int {
	code := m.Run()
	if shared.b != nil {
		if err := shared.b.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
