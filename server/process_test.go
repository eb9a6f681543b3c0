package server

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/testbin"
)

// TestServeProcess runs `keydesk serve` as the operator would: the real
// binary, set up with the CLI, answering HTTP and RADIUS on loopback, and
// stopping cleanly on SIGTERM.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the keydesk binary")
	}
	dir := t.TempDir()
	bin := testbin.Keydesk(t)
	env := append(os.Environ(), "KEYDESK_DB="+filepath.Join(dir, "keydesk.db"), "KEYDESK_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"))
	keydesk := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("keydesk %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	seed := []byte("12345678901234567890")
	os.WriteFile(filepath.Join(dir, "seed.hex"), []byte(hex.EncodeToString(seed)), 0o600)
	os.WriteFile(filepath.Join(dir, "secret"), []byte(radiusSecret+"\n"), 0o600)
	keydesk("init")
	keydesk("user", "add", "alice")
	keydesk("fob", "add", "F1", "--kind", "totp", "--secret-file", filepath.Join(dir, "seed.hex"))
	keydesk("fob", "assign", "F1", "alice")
	key := keydesk("app", "add", "vpn", "--radius-secret-file", filepath.Join(dir, "secret"), "--radius-source", "127.0.0.1")

	srv := exec.Command(bin, "serve", "--http", "127.0.0.1:0", "--radius", "127.0.0.1:0")
	srv.Env = env
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	lines := bufio.NewScanner(stderr)
	httpAddr, radiusAddr := "", ""
	for (httpAddr == "" || radiusAddr == "") && lines.Scan() {
		if m := regexp.MustCompile(`serving the HTTP API on (http://\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			httpAddr = m[1]
		}
		if m := regexp.MustCompile(`serving RADIUS on udp (\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			radiusAddr = m[1]
		}
	}
	if httpAddr == "" || radiusAddr == "" {
		t.Fatalf("keydesk serve did not say where it listens")
	}
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	tok := fob.Token{Serial: "F1", Kind: fob.TOTP, Secret: seed}
	tok.Normalize()
	code := tok.Code(uint64(tok.Step(time.Now())))
	status, m, err := post(t, http.DefaultClient, httpAddr+"/v1/auth", key, map[string]string{"username": "alice", "passcode": code})
	if err != nil || status != 200 || m["result"] != "allow" {
		t.Errorf("POST /v1/auth: %d %v %v", status, m, err)
	}
	if _, err := exec.LookPath("radclient"); err == nil {
		out, accepted := radclient(t, radiusAddr, radiusSecret, "User-Name = alice, User-Password = "+code+", Message-Authenticator = 0x00\n")
		// An application added without --detailed-reasons hears only that
		// the passcode was not accepted; the server's log has why.
		if accepted || !strings.Contains(out, `Reply-Message = "passcode not accepted"`) {
			t.Errorf("radclient with the code just used:\n%s", out)
		}
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The log ends when the process does; only then may Wait close the
	// pipe.
	var log string
	select {
	case log = <-rest:
	case <-time.After(30 * time.Second):
		t.Fatal("keydesk serve did not stop on SIGTERM")
	}
	if err := srv.Wait(); err != nil {
		t.Errorf("keydesk serve after SIGTERM: %v", err)
	}
	if !strings.Contains(log, "keydesk: stopped") {
		t.Errorf("no clean stop in the log:\n%s", log)
	}
}
