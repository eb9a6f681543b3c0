package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata from what the real tools send")

// radclientSeed is an Access-Request radclient sent, captured by
// TestRadclient with -update, and a seed of FuzzRADIUSPacket.
var radclientSeed = filepath.Join("testdata", "radclient-access-request.hex")

// recorder is a PacketConn that keeps the datagrams it reads.
type recorder struct {
	net.PacketConn
	mu   sync.Mutex
	read [][]byte
}

func (r *recorder) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := r.PacketConn.ReadFrom(b)
	if err == nil {
		r.mu.Lock()
		r.read = append(r.read, bytes.Clone(b[:n]))
		r.mu.Unlock()
	}
	return n, addr, err
}

// radclient runs FreeRADIUS's radclient (Debian freeradius-utils) with
// the attributes given, one try, and returns its output and whether it
// got the answer it expects (an Access-Accept).
func radclient(t *testing.T, addr, secret, attrs string) (string, bool) {
	t.Helper()
	cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "1", addr, "auth", secret)
	cmd.Stdin = strings.NewReader(attrs)
	out, err := cmd.CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("radclient: %v", err)
	}
	return string(out), err == nil
}

// TestRadclient checks the server against a real RADIUS client: an
// Access-Accept and an Access-Reject it takes as authentic (radclient
// checks the Response Authenticator and the Message-Authenticator), and
// silence for a request without a Message-Authenticator or with another
// secret.
func TestRadclient(t *testing.T) {
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Skip("radclient is not installed (Debian package freeradius-utils; make deps installs it)")
	}
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{PacketConn: pc}
	done := make(chan error, 1)
	ctx, stop := context.WithCancel(context.Background())
	go func() { done <- fx.srv.Serve(ctx, ln, rec) }()
	defer func() { stop(); <-done; pc.Close(); ln.Close() }()
	addr := pc.LocalAddr().String()

	// radclient adds a Message-Authenticator when the request names one
	// (its value is computed, 0x00 is a placeholder).
	out, accepted := radclient(t, addr, radiusSecret, "User-Name = alice, User-Password = "+fx.code("alice")+", Message-Authenticator = 0x00\n")
	if !accepted || !strings.Contains(out, "Received Access-Accept") || !strings.Contains(out, `Reply-Message = "code accepted from fob LT-alice"`) {
		t.Errorf("right code: accepted %v\n%s", accepted, out)
	}
	if !strings.Contains(out, "Message-Authenticator = 0x") {
		t.Errorf("the answer carries no Message-Authenticator:\n%s", out)
	}
	out, accepted = radclient(t, addr, radiusSecret, "User-Name = alice, User-Password = 000000, Message-Authenticator = 0x00\n")
	if accepted || !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, `Reply-Message = "wrong code: `) {
		t.Errorf("wrong code:\n%s", out)
	}
	out, _ = radclient(t, addr, radiusSecret, "User-Name = alice, User-Password = 000000\n")
	if !strings.Contains(out, "No reply") {
		t.Errorf("without a Message-Authenticator:\n%s", out)
	}
	out, _ = radclient(t, addr, "another secret of some length", "User-Name = alice, User-Password = 000000, Message-Authenticator = 0x00\n")
	if !strings.Contains(out, "No reply") {
		t.Errorf("with another secret:\n%s", out)
	}

	if *update {
		rec.mu.Lock()
		first := rec.read[0]
		rec.mu.Unlock()
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(radclientSeed, []byte(hex.EncodeToString(first)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
