package server

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/pgtest"
	"github.com/keydesk/keydesk/internal/testbin"
	"github.com/keydesk/keydesk/internal/teststore"
)

// These tests run two and three `keydesk serve` processes on one
// PostgreSQL database, as a help desk runs them behind a load balancer,
// and send them the same passcodes at once: every rule must hold across
// them, with nothing decided by one node's memory.

// nodeSet is an inventory on PostgreSQL and the servers in front of it.
type nodeSet struct {
	t      *testing.T
	bin    string
	dir    string
	dbURL  string
	env    []string
	appKey string
	nodes  []*node
}

type node struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has ended
}

// seed is RFC 4226's, shared by the fobs of these tests.
var nodeSeed = []byte("12345678901234567890")

func newNodeSet(t *testing.T) *nodeSet {
	t.Helper()
	if testing.Short() {
		t.Skip("builds keydesk and runs several servers on PostgreSQL")
	}
	dir := t.TempDir()
	ns := &nodeSet{t: t, bin: testbin.Keydesk(t), dir: dir, dbURL: pgtest.Shared(t).NewDatabase(t)}
	ns.env = append(os.Environ(), "KEYDESK_DB="+ns.dbURL, "KEYDESK_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"))
	os.WriteFile(filepath.Join(dir, "seed.hex"), []byte(hex.EncodeToString(nodeSeed)), 0o600)
	ns.keydesk("init")
	ns.appKey = ns.keydesk("app", "add", "portal", "--detailed-reasons")
	return ns
}

// keydesk runs a command of the CLI on the shared inventory.
func (ns *nodeSet) keydesk(args ...string) string {
	ns.t.Helper()
	cmd := exec.Command(ns.bin, args...)
	cmd.Env = ns.env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		ns.t.Fatalf("keydesk %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// addHOTPUser adds a user holding a HOTP fob of nodeSeed (every user the
// same seed, so that the test knows the codes: allowed on purpose).
func (ns *nodeSet) addHOTPUser(name, serial string) {
	ns.keydesk("user", "add", name)
	ns.keydesk("fob", "add", serial, "--kind", "hotp", "--secret-file", filepath.Join(ns.dir, "seed.hex"), "--allow-duplicate-seed")
	ns.keydesk("fob", "assign", serial, name)
}

// start starts n servers, each its own process with its own pool of
// connections and its own caches.
func (ns *nodeSet) start(n int) {
	ns.t.Helper()
	for range n {
		cmd := exec.Command(ns.bin, "serve", "--http", "127.0.0.1:0", "--user-rate", "-1", "--client-rate", "-1", "--log-level", "warn")
		cmd.Env = ns.env
		stderr, err := cmd.StderrPipe()
		if err != nil {
			ns.t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			ns.t.Fatal(err)
		}
		nd := &node{cmd: cmd, done: make(chan struct{})}
		lines := bufio.NewScanner(stderr)
		for nd.url == "" && lines.Scan() {
			if m := regexp.MustCompile(`serving the HTTP API on (http://\S+)`).FindStringSubmatch(lines.Text()); m != nil {
				nd.url = m[1]
			}
		}
		if nd.url == "" {
			cmd.Process.Kill()
			ns.t.Fatalf("keydesk serve did not say where it listens")
		}
		go func() {
			io.Copy(io.Discard, stderr)
			cmd.Wait()
			close(nd.done)
		}()
		ns.t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-nd.done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
			}
		})
		ns.nodes = append(ns.nodes, nd)
	}
}

// kill ends node i as a crash would: SIGKILL, no goodbye.
func (ns *nodeSet) kill(i int) {
	ns.nodes[i].cmd.Process.Kill()
	<-ns.nodes[i].done
}

var nodeClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// auth asks node i about a passcode: the result, the reason code, and an
// error when no answer came.
func (ns *nodeSet) auth(i int, user, code string) (result, reason string, err error) {
	body := fmt.Sprintf(`{"username":%q,"passcode":%q}`, user, code)
	req, _ := http.NewRequest("POST", ns.nodes[i].url+"/v1/auth", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ns.appKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := nodeClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var m struct {
		Result     string `json:"result"`
		ReasonCode string `json:"reason_code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("status %d: %v", resp.StatusCode, err)
	}
	return m.Result, m.ReasonCode, nil
}

// burst sends copies copies of one passcode, spread over the nodes, all
// at once, and counts the allows.
func (ns *nodeSet) burst(user, code string, copies int) (allows int) {
	ns.t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c := range copies {
		wg.Go(func() {
			<-start
			res, _, err := ns.auth(c%len(ns.nodes), user, code)
			if err != nil {
				ns.t.Errorf("copy %d to node %d: %v", c, c%len(ns.nodes), err)
			}
			if res == "allow" {
				n.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(n.Load())
}

func hotpCode(counter uint64) string {
	tok := fob.Token{Kind: fob.HOTP, Secret: nodeSeed}
	tok.Normalize()
	return tok.Code(counter)
}

func (ns *nodeSet) auditVerify() {
	ns.t.Helper()
	if out := ns.keydesk("audit", "verify"); !strings.Contains(out, "audit log verified") {
		ns.t.Errorf("audit verify: %s", out)
	}
}

// The same code sent 64 times to every node at once is allowed once, in
// each of 20 rounds, with two nodes and with three.
func TestNodesOneAllowPerCode(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			ns := newNodeSet(t)
			ns.addHOTPUser("alice", "F1")
			ns.start(n)
			for round := range 20 {
				if allows := ns.burst("alice", hotpCode(uint64(round)), 64); allows != 1 {
					t.Fatalf("round %d: %d of 64 copies allowed across %d nodes, want 1", round, allows, n)
				}
			}
			// The replays proved possession, they were no guesses: alice
			// is not locked, and the next code works.
			if res, reason, err := ns.auth(0, "alice", hotpCode(20)); res != "allow" {
				t.Errorf("the code after 20 rounds: %s %s %v", res, reason, err)
			}
			ns.auditVerify()
		})
	}
}

// A bypass code of 3 uses, 64 copies across three nodes: 3 allows.
func TestNodesBypassUses(t *testing.T) {
	ns := newNodeSet(t)
	ns.keydesk("user", "add", "bob")
	out := ns.keydesk("bypass", "issue", "bob", "--uses", "3", "--json")
	var issued struct {
		Codes []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(out), &issued); err != nil || len(issued.Codes) != 1 {
		t.Fatalf("bypass issue said %s: %v", out, err)
	}
	ns.start(3)
	if allows := ns.burst("bob", issued.Codes[0], 64); allows != 3 {
		t.Fatalf("%d of 64 copies of a 3-use bypass code allowed, want 3", allows)
	}
	ns.auditVerify()
}

// Wrong codes sent in turn to three nodes lock the user at the tenth,
// whichever node counted the others; a right code is refused after.
func TestNodesLockoutCounted(t *testing.T) {
	ns := newNodeSet(t)
	ns.addHOTPUser("carol", "F3")
	ns.start(3)
	for i := range 10 {
		res, reason, err := ns.auth(i%3, "carol", "000000")
		if err != nil || res != "deny" || reason != "wrong_code" {
			t.Fatalf("wrong code %d: %s %s %v", i+1, res, reason, err)
		}
	}
	for i := range 3 {
		if res, reason, err := ns.auth(i, "carol", hotpCode(0)); res != "deny" || reason != "user_locked" {
			t.Errorf("right code on node %d after 10 failures: %s %s %v", i, res, reason, err)
		}
	}
	var fails int
	raw := teststore.Raw(t, ns.dbURL)
	if err := raw.QueryRow(`SELECT fail_count FROM users WHERE name = 'carol'`).Scan(&fails); err != nil || fails != 10 {
		t.Errorf("carol's failures: %d, %v; want 10", fails, err)
	}
}

// One of three nodes killed with SIGKILL under load: every allow a client
// heard is in the inventory, no code is allowed twice, the other nodes go
// on, and the audit log verifies.
func TestNodesKillOne(t *testing.T) {
	ns := newNodeSet(t)
	const users = 12
	for u := range users {
		ns.addHOTPUser(fmt.Sprintf("u%02d", u), fmt.Sprintf("K%02d", u))
	}
	ns.start(3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var killed atomic.Bool
	heard := make([][]uint64, users) // the counters each user was allowed at, as clients heard
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			user := fmt.Sprintf("u%02d", u)
			for c, try := uint64(0), 0; ctx.Err() == nil; try++ {
				i := try % 3
				if killed.Load() && i == 0 {
					continue
				}
				res, reason, err := ns.auth(i, user, hotpCode(c))
				switch {
				case err != nil:
					// No answer: the node may have committed the
					// decision before it died; the code is tried again
					// elsewhere and is then a replay.
				case res == "allow":
					heard[u] = append(heard[u], c)
					c++
				case reason == "replay":
					c++ // spent by a decision whose answer was lost
				default:
					t.Errorf("%s code %d on node %d: %s %s", user, c, i, res, reason)
					return
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	killed.Store(true)
	ns.kill(0)
	wg.Wait()

	raw := teststore.Raw(t, ns.dbURL)
	total := 0
	for u := range users {
		var counter uint64
		serial := fmt.Sprintf("K%02d", u)
		if err := raw.QueryRow(`SELECT counter FROM fobs WHERE serial = ?`, serial).Scan(&counter); err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		for _, c := range heard[u] {
			if seen[c] {
				t.Errorf("fob %s: counter %d allowed twice", serial, c)
			}
			seen[c] = true
			if c >= counter {
				t.Errorf("fob %s: an allow at counter %d was heard, but the inventory's counter is %d", serial, c, counter)
			}
		}
		total += len(heard[u])
	}
	var logged int
	if err := raw.QueryRow(`SELECT count(*) FROM auth_log WHERE result = 'allow'`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged < total || total < users {
		t.Errorf("%d allows heard by clients, %d in the authentication log", total, logged)
	}
	t.Logf("%d allows heard, %d logged, node 0 killed at 1.5 s", total, logged)
	for i := 1; i < 3; i++ {
		if res, reason, err := ns.auth(i, "u00", "000000"); err != nil || res != "deny" || reason != "wrong_code" {
			t.Errorf("node %d after the kill: %s %s %v", i, res, reason, err)
		}
	}
	ns.auditVerify()
}
