package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/keydesk/keydesk/internal/testbin"
	"github.com/keydesk/keydesk/seedfile"
)

// TestImportAtATerminal runs `keydesk import` of a password-protected file
// on a real pseudo-terminal, as a clerk would: keydesk asks for the password
// without echoing it, before the import takes the inventory's write lock
// (another keydesk writes while the clerk types) and before the progress
// bar starts, and shows the bar while it reads. The same file again is
// refused before any password is asked.
func TestImportAtATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keydesk")
	}
	dir := t.TempDir()
	bin := testbin.Keydesk(t)
	file := filepath.Join(dir, "vendor.pskc")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	const password = "s3cret-at-the-desk"
	if err := seedfile.WritePSKC(f, seedfile.Synthetic(20_000), seedfile.ExportOptions{Password: []byte(password), Iterations: 1000}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	inv := []string{"--db", filepath.Join(dir, "k.db"), "--master-key", filepath.Join(dir, "k.key")}
	if out, err := exec.Command(bin, append(inv, "init")...).CombinedOutput(); err != nil {
		t.Fatalf("init: %v: %s", err, out)
	}
	cmd := exec.Command(bin, append(inv, "import", file)...)
	term, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	screen := make(chan string, 1)
	var seen strings.Builder
	prompt := "Password of " + file + ": "
	go func() {
		r := bufio.NewReader(term)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), prompt) {
				select {
				case screen <- seen.String():
				default:
				}
			}
			if err != nil {
				close(screen)
				return
			}
		}
	}()
	select {
	case before := <-screen:
		if strings.Contains(before, "%") {
			t.Errorf("the progress bar started before the password was asked: %q", before)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no password prompt; the terminal showed %q", seen.String())
	}
	// While the clerk types, the inventory is free: another keydesk adds a
	// user at once, well within the 5 s it would wait for a lock.
	start := time.Now()
	if out, err := exec.Command(bin, append(inv, "user", "add", "bob")...).CombinedOutput(); err != nil || time.Since(start) > 3*time.Second {
		t.Errorf("user add while the password prompt waits: %v after %s: %s", err, time.Since(start), out)
	}
	io.WriteString(term, password+"\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("import: %v; the terminal showed %q", err, seen.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("import did not finish")
	}
	for range screen {
	}
	out := seen.String()
	if strings.Contains(out, password) {
		t.Errorf("the password was echoed: %q", out)
	}
	if !strings.Contains(out, "imported 20000 fob(s)") {
		t.Errorf("no summary: %q", out)
	}
	if !strings.Contains(out, "%") || !strings.Contains(out, "vendor.pskc") {
		t.Errorf("no progress bar on the terminal: %q", out)
	}

	again := exec.Command(bin, append(inv, "import", file)...)
	term2, err := pty.Start(again)
	if err != nil {
		t.Fatal(err)
	}
	defer term2.Close()
	var out2 strings.Builder
	copied := make(chan struct{})
	go func() { io.Copy(&out2, term2); close(copied) }()
	if err := waitFor(again, 30*time.Second); err == nil {
		t.Errorf("the same file imported twice: %q", out2.String())
	}
	<-copied
	if strings.Contains(out2.String(), "Password") || !strings.Contains(out2.String(), "file already imported") {
		t.Errorf("importing the file again: want \"file already imported\" and no password asked; the terminal showed %q", out2.String())
	}
}

// waitFor waits for cmd to exit, killing it after d.
func waitFor(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		return <-done
	}
}
