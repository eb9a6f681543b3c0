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
// without echoing it, and shows a progress bar while it reads.
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
	go func() {
		r := bufio.NewReader(term)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "Password of the seed file: ") {
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
	case <-screen:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no password prompt; the terminal showed %q", seen.String())
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
}
