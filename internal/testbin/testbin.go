// Package testbin builds keydesk's commands once per test binary, for the
// tests that run them as whole processes (the CLI on a terminal, a crash
// mid-import, the server under SIGTERM, the load generator).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// dir holds the binaries of this test binary's run; [Run] removes it.
var dir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "keydesk-testbin-") })

func builder(pkg, name string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		d, err := dir()
		if err != nil {
			return "", err
		}
		bin := filepath.Join(d, name)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return bin, nil
	})
}

var (
	keydesk = builder("github.com/keydesk/keydesk/cmd/keydesk", "keydesk")
	loadgen = builder("github.com/keydesk/keydesk/internal/loadgen", "loadgen")
)

// Keydesk is the path of the keydesk binary, built at the first call.
func Keydesk(tb testing.TB) string { return must(tb, keydesk) }

// Loadgen is the path of the load generator, built at the first call.
func Loadgen(tb testing.TB) string { return must(tb, loadgen) }

func must(tb testing.TB, build func() (string, error)) string {
	tb.Helper()
	bin, err := build()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Runner is what a TestMain runs: *testing.M is one.
type Runner interface{ Run() int }

// Run runs the tests, then removes the binaries built for them. A
// TestMain calls os.Exit(testbin.Run(m)), or hands testbin.Wrap(m) on to
// a harness that exits itself.
func Run(m Runner) int {
	code := m.Run()
	if d, err := dir(); err == nil {
		os.RemoveAll(d)
	}
	return code
}

// Wrap is m with the binaries removed after its run.
func Wrap(m Runner) Runner { return wrapped{m} }

type wrapped struct{ m Runner }

func (w wrapped) Run() int { return Run(w.m) }
