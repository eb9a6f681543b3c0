package verify_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// TestMain lets the test binary act as a second keydesk process for
// TestSameCodeTwoProcesses.
func TestMain(m *testing.M) {
	if os.Getenv("KEYDESK_VERIFY_CHILD") != "" {
		os.Exit(child())
	}
	code := teststore.Run(m)
	benchCleanup()
	os.Exit(code)
}

// child opens the inventory named in the environment, says "ready", then
// verifies each "serial code" line of stdin and answers with one line.
func child() int {
	unix, _ := strconv.ParseInt(os.Getenv("KEYDESK_VERIFY_NOW"), 10, 64)
	now := func() time.Time { return time.Unix(unix, 0) }
	s, err := inventory.Open(context.Background(), os.Getenv("KEYDESK_VERIFY_DB"), masterKey(), inventory.Options{Now: now})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer s.Close()
	v := verify.New(s, verify.DefaultPolicy)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		serial, code, _ := strings.Cut(in.Text(), " ")
		d, err := v.VerifySerial(context.Background(), serial, code, verify.Origin{Transport: "test"})
		switch {
		case err != nil:
			fmt.Println("error", err)
		case d.Allow:
			fmt.Println("allow")
		default:
			fmt.Println("deny", d.ReasonCode())
		}
	}
	return 0
}

// TestSameCodeManyGoroutines: 32 verifications of one code at once allow
// exactly once, for each kind of fob. The others are replays, which count
// as failures, so from the tenth on the fob is locked.
func TestSameCodeManyGoroutines(t *testing.T) {
	e := newEnv(t)
	h, tt, y := hotp("C-H"), totp("C-T"), yubico("C-Y")
	e.add(t, "", h, tt, y)
	for _, c := range []struct{ serial, code string }{
		{"C-H", h.Code(3)},
		{"C-T", tt.Code(step)},
		{"C-Y", otp(t, y, 1, 0)},
	} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		allows, replays, locked := 0, 0, 0
		begin := make(chan struct{})
		for range 32 {
			wg.Go(func() {
				<-begin
				d, err := e.v.VerifySerial(t.Context(), c.serial, c.code, verify.Origin{Transport: "test"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("%s: %v", c.serial, err)
				case d.Allow:
					allows++
				case d.ReasonCode() == "replay":
					replays++
				case d.ReasonCode() == "fob_locked":
					locked++
				default:
					t.Errorf("%s: denied %v", c.serial, d.Denial)
				}
			})
		}
		close(begin)
		wg.Wait()
		// The 31 replays prove the fob is at hand: none counts toward
		// the lockout.
		if allows != 1 || replays != 31 || locked != 0 {
			t.Errorf("%s: %d allowed, %d replays, %d locked; want 1, 31 and 0", c.serial, allows, replays, locked)
		}
		if f := e.fob(t, c.serial); f.FailCount != 0 || !f.LockedAt.IsZero() {
			t.Errorf("%s: %d failures counted after the replays", c.serial, f.FailCount)
		}
	}
}

type proc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startChild(t *testing.T, e *env) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "KEYDESK_VERIFY_CHILD=1", "KEYDESK_VERIFY_DB="+e.path,
		fmt.Sprintf("KEYDESK_VERIFY_NOW=%d", e.clock.Now().Unix()))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() { p.in.Close(); p.cmd.Wait() })
	if line := p.line(t); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	return p
}

func (p *proc) line(t *testing.T) string {
	t.Helper()
	s, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from child: %v", err)
	}
	return strings.TrimSpace(s)
}

// TestSameCodeTwoProcesses: two keydesk processes on one file, given the
// same code at the same moment, allow it once between them.
func TestSameCodeTwoProcesses(t *testing.T) {
	e := newEnv(t)
	h, y := hotp("P-H"), yubico("P-Y")
	e.add(t, "", h, y)
	procs := []*proc{startChild(t, e), startChild(t, e)}
	for round := range 20 {
		serial, code := "P-H", h.Code(uint64(round))
		if round%2 == 1 {
			serial, code = "P-Y", otp(t, y, uint16(round), 0)
		}
		for _, p := range procs {
			if _, err := fmt.Fprintf(p.in, "%s %s\n", serial, code); err != nil {
				t.Fatal(err)
			}
		}
		answers := []string{procs[0].line(t), procs[1].line(t)}
		allows := 0
		for _, a := range answers {
			switch a {
			case "allow":
				allows++
			case "deny replay":
			default:
				t.Errorf("round %d: child answered %q", round, a)
			}
		}
		if allows != 1 {
			t.Errorf("round %d (%s): answers %q, want exactly one allow", round, serial, answers)
		}
	}
	if f := e.fob(t, "P-H"); f.Token.Counter != 19 {
		t.Errorf("HOTP counter %d after codes 0 to 18, want 19", f.Token.Counter)
	}
	if f := e.fob(t, "P-Y"); f.Token.Counter != 19<<8 {
		t.Errorf("Yubico counter %#x, want %#x", f.Token.Counter, 19<<8)
	}
}
