package browsertest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
)

// Kind says where a [Problem] came from.
type Kind string

const (
	// PolicyViolation is a securitypolicyviolation event: the page did
	// something its Content-Security-Policy forbids (CSP3 §5.2).
	PolicyViolation Kind = "csp"
	// ConsoleError is a console.error or failed console.assert call.
	ConsoleError Kind = "console"
	// Exception is an exception or promise rejection nothing caught.
	Exception Kind = "exception"
	// BrowserError is an error the browser logged for the page: a
	// resource that failed to load, a policy refusal in its own words.
	BrowserError Kind = "browser"
)

// Problem is something a page reported that a person would not see but a
// test should: an error in the console or a policy violation.
type Problem struct {
	Kind Kind
	Text string // the message; for a violation, the directive and what it blocked
	URL  string // where: the script, resource or page
	Line int64  // 1-based; 0 when unknown

	// Directive and Blocked are set for a PolicyViolation: the effective
	// directive ("script-src-elem") and the blocked URL, or "inline",
	// "eval", "wasm-eval" for code that has none.
	Directive, Blocked string
}

func (p Problem) String() string {
	where := p.URL
	if where != "" && p.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, p.Line)
	}
	if where != "" {
		where = " at " + where
	}
	return fmt.Sprintf("%s: %s%s", p.Kind, p.Text, where)
}

// Problems returns what the tab's pages have reported since the last call,
// and forgets it, so that a test which expects a problem takes it and the
// end-of-test check does not fail for it.
func (tab *Tab) Problems() []Problem {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	ps := tab.problems
	tab.problems = nil
	return ps
}

// WaitProblems waits until the tab has seen at least n problems of the
// kind, then takes them all as [Tab.Problems] does. A violation is
// reported by an event the page queues, which may come after the load
// that caused it, so a test expecting one waits for it.
func (tab *Tab) WaitProblems(t testing.TB, kind Kind, n int) []Problem {
	t.Helper()
	if err := tab.waitProblems(kind, n); err != nil {
		tab.fatal(t, fmt.Sprintf("waiting for %d problems of kind %s", n, kind), err)
	}
	return tab.Problems()
}

func (tab *Tab) waitProblems(kind Kind, n int) error {
	deadline := time.NewTimer(tab.timeout)
	defer deadline.Stop()
	for {
		tab.mu.Lock()
		seen := 0
		for _, p := range tab.problems {
			if p.Kind == kind {
				seen++
			}
		}
		if tab.reported == nil {
			tab.reported = make(chan struct{})
		}
		reported := tab.reported
		tab.mu.Unlock()
		if seen >= n {
			return nil
		}
		select {
		case <-reported:
		case <-deadline.C:
			return fmt.Errorf("%d seen after %v", seen, tab.timeout)
		}
	}
}

// listen runs in the tab's event loop: it must return at once and send no
// command.
func (tab *Tab) listen(ev any) {
	var p Problem
	switch ev := ev.(type) {
	case *runtime.EventBindingCalled:
		if ev.Name != cspBinding {
			return
		}
		p = violation(ev.Payload)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		p = Problem{Kind: ConsoleError, Text: consoleText(ev.Args)}
		if s := ev.StackTrace; s != nil && len(s.CallFrames) > 0 {
			p.URL, p.Line = s.CallFrames[0].URL, s.CallFrames[0].LineNumber+1
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = Problem{Kind: Exception, Text: d.Text, URL: d.URL, Line: d.LineNumber + 1}
		if d.Exception != nil && d.Exception.Description != "" {
			p.Text += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError || implicitFavicon(e) {
			return
		}
		p = Problem{Kind: BrowserError, Text: e.Text, URL: e.URL}
		if e.LineNumber > 0 {
			p.Line = e.LineNumber + 1
		}
	default:
		return
	}
	tab.mu.Lock()
	tab.problems = append(tab.problems, p)
	if tab.reported != nil {
		close(tab.reported) // wakes WaitProblems
		tab.reported = nil
	}
	tab.mu.Unlock()
}

// implicitFavicon is the browser's own request for /favicon.ico, which it
// makes for a page that names no icon; its 404 is no fault of the page.
func implicitFavicon(e *log.Entry) bool {
	u, err := url.Parse(e.URL)
	return err == nil && e.Source == log.EntrySourceNetwork && u.Path == "/favicon.ico" && u.RawQuery == ""
}

// violation decodes what the watcher in the page sent; it comes from our
// own script, so a payload we cannot read is itself reported as such.
func violation(payload string) Problem {
	var v struct {
		Directive, Blocked, Source, Sample, Disposition, Page string
		Line                                                  int64
	}
	if err := json.Unmarshal([]byte(payload), &v); err != nil {
		return Problem{Kind: PolicyViolation, Text: "unreadable report: " + payload}
	}
	text := fmt.Sprintf("%s blocked %s", v.Directive, v.Blocked)
	if v.Disposition == "report" {
		text = fmt.Sprintf("%s would block %s (report only)", v.Directive, v.Blocked)
	}
	if v.Sample != "" {
		text += fmt.Sprintf(" (%q)", v.Sample)
	}
	where := v.Source
	if where == "" {
		where = v.Page
	}
	return Problem{Kind: PolicyViolation, Text: text, URL: where, Line: v.Line, Directive: v.Directive, Blocked: v.Blocked}
}

func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		if a.Type == runtime.RemoteObjectTypeString && json.Unmarshal(a.Value, &s) == nil {
			parts = append(parts, s)
			continue
		}
		if a.Description != "" {
			parts = append(parts, a.Description)
			continue
		}
		parts = append(parts, string(a.Value))
	}
	return strings.Join(parts, " ")
}
