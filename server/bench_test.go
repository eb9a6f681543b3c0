package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/internal/loadtest"
	"github.com/keydesk/keydesk/internal/pgtest"
	"github.com/keydesk/keydesk/internal/slapd"
	"github.com/keydesk/keydesk/internal/testbin"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// benchUsers is the inventory of the load benchmarks: 10,000 users, each
// with one TOTP fob.
const benchUsers = 10_000

// benchSpeed is how much faster than the wall clock the server's clock
// runs in the load benchmarks: a 30 s TOTP step lasts 0.5 s, so each of
// the 10,000 users can be allowed once every 0.5 s, up to 20,000 allow
// decisions a second. Everything else (HTTP, RADIUS, SQLite, fsync) runs
// at its real speed.
const benchSpeed = 60

// benchFixture is a server on loopback in front of the load test's
// inventory, committed with synchronous=FULL as in production, on a clock
// running benchSpeed times as fast.
type benchFixture struct {
	clock  loadtest.Clock
	appKey string
	live   *live
	srv    *Server
	path   string
	cfg    Config
	nodes  []*live // live and the servers added by addNodes
	pg     *pgtest.Cluster
}

func newBenchFixture(b *testing.B, withRADIUS bool) *benchFixture {
	return newBenchFixtureWith(b, withRADIUS, Config{}, "", nil)
}

// newBenchFixtureWith is newBenchFixture with cfg's directory and the
// loadgen client's RADIUS mode, and dir as the server's directory.
func newBenchFixtureWith(b *testing.B, withRADIUS bool, cfg Config, mode inventory.RADIUSMode, dir Directory) *benchFixture {
	return newBenchFixtureAt(b, filepath.Join(b.TempDir(), "keydesk.db"), withRADIUS, cfg, mode, dir)
}

// newBenchFixtureAt is newBenchFixtureWith with the inventory at path, a
// new file or an empty PostgreSQL database.
func newBenchFixtureAt(b *testing.B, path string, withRADIUS bool, cfg Config, mode inventory.RADIUSMode, dir Directory) *benchFixture {
	b.Helper()
	// The wall clock's monotonic reading is dropped, so that this
	// process and loadgen read the same clock.
	now := time.Now().Round(0)
	clk := loadtest.Clock{Origin: now, Base: now, Speed: benchSpeed}
	st, err := inventory.Open(context.Background(), path,
		bytes.Repeat([]byte{7}, inventory.MasterKeySize), inventory.Options{Create: true, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	began := time.Now()
	if err := loadtest.Build(context.Background(), st, benchUsers); err != nil {
		b.Fatal(err)
	}
	b.Logf("inventory of %d users, each with a TOTP fob, in %v", benchUsers, time.Since(began).Round(time.Millisecond))
	ver := verify.New(st, verify.DefaultPolicy)
	// One address sends everything here, so the per-client limit is off;
	// the per-user limit stays on.
	cfg.Now, cfg.ClientRate, cfg.Log = clk.Now, -1, quietLog(b)
	deps := NewDeps(st, ver)
	deps.Directory = dir
	srv, err := New(cfg, deps)
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := desk.New(st, verify.New(st, verify.DefaultPolicy)).As("bench").AddApplication(context.Background(), inventory.NewApplication{
		Name: "loadgen", RADIUSSecret: []byte(radiusSecret), RADIUSSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		RADIUSMode: mode})
	if err != nil {
		b.Fatal(err)
	}
	fx := &fixture{srv: srv}
	bf := &benchFixture{clock: clk, appKey: key, live: fx.serve(b, withRADIUS), srv: srv, path: path, cfg: cfg}
	bf.nodes = []*live{bf.live}
	return bf
}

// addNodes puts n more servers in front of the inventory, each with a
// store of its own (its own pool of connections, its own caches), as
// further `keydesk serve` processes on one PostgreSQL database are.
func (bf *benchFixture) addNodes(b *testing.B, n int) {
	for range n {
		st, err := inventory.Open(context.Background(), bf.path, bytes.Repeat([]byte{7}, inventory.MasterKeySize),
			inventory.Options{Now: bf.clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		srv, err := New(bf.cfg, NewDeps(st, verify.New(st, verify.DefaultPolicy)))
		if err != nil {
			b.Fatal(err)
		}
		bf.nodes = append(bf.nodes, (&fixture{srv: srv}).serve(b, false))
	}
}

// urls are the nodes' HTTP addresses, for loadgen -http.
func (bf *benchFixture) urls() string {
	var u []string
	for _, n := range bf.nodes {
		u = append(u, n.url)
	}
	return strings.Join(u, ",")
}

// loadResult is loadgen's report.
type loadResult struct {
	Requests    int64          `json:"requests"`
	Allowed     int64          `json:"allowed"`
	Denied      int64          `json:"denied"`
	Errors      int64          `json:"errors"`
	Late        int64          `json:"late"`
	DenyReasons map[string]int `json:"deny_reasons"`
	FirstError  string         `json:"first_error"`
	PerSecond   float64        `json:"per_second"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	Maxms       float64        `json:"max_ms"`
	Waits       int64          `json:"step_waits"`
}

func (bf *benchFixture) load(b *testing.B, target ...string) {
	bin := testbin.Loadgen(b)
	args := append(target, "-users", strconv.Itoa(benchUsers), "-n", strconv.Itoa(b.N), "-c", "64",
		"-speed", strconv.Itoa(benchSpeed), "-origin", strconv.FormatInt(bf.clock.Origin.UnixNano(), 10),
		"-base", strconv.FormatInt(bf.clock.Base.UnixNano(), 10))
	if p := os.Getenv("LOADGEN_CPUPROFILE"); p != "" {
		args = append(args, "-cpuprofile", p)
	}
	cmd := exec.Command(bin, args...)
	cpu0 := cpuTime()
	var pg0 time.Duration
	if bf.pg != nil {
		pg0 = bf.pg.CPU()
	}
	b.ResetTimer()
	out, err := cmd.Output()
	b.StopTimer()
	if bf.pg != nil {
		b.ReportMetric(float64((bf.pg.CPU()-pg0).Microseconds())/float64(b.N), "postgres-cpu-µs/op")
	}
	if err != nil {
		b.Fatalf("loadgen: %v", err)
	}
	// Where the two cores went: this process (the server) and loadgen.
	serverCPU := cpuTime() - cpu0
	var loadgenCPU time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		loadgenCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ReportMetric(float64(serverCPU.Microseconds())/float64(b.N), "server-cpu-µs/op")
	b.ReportMetric(float64(loadgenCPU.Microseconds())/float64(b.N), "loadgen-cpu-µs/op")
	var r loadResult
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("loadgen said %q: %v", out, err)
	}
	b.Logf("loadgen: %s", bytes.TrimSpace(out))
	b.ReportMetric(r.PerSecond, "decisions/s")
	b.ReportMetric(r.P50ms, "p50-ms")
	b.ReportMetric(r.P90ms, "p90-ms")
	b.ReportMetric(r.P99ms, "p99-ms")
	b.ReportMetric(r.Maxms, "max-ms")
	b.ReportMetric(float64(r.Waits), "step-waits")
	b.ReportMetric(float64(r.Late), "late")
	// A late denial is right: the request outlived its code. Any other
	// denial or error is a failure.
	if r.Allowed+r.Late != int64(b.N) || r.Denied > 0 || r.Errors > 0 {
		b.Errorf("%d requests: %d allowed, %d late, %d denied %v, %d errors (first: %s)", r.Requests, r.Allowed, r.Late, r.Denied, r.DenyReasons, r.Errors, r.FirstError)
	}
}

// BenchmarkLoadHTTP is POST /v1/auth from a separate process (loadgen)
// over loopback: 64 clients, each on its own kept-alive connection, right
// TOTP codes of 10,000 users, every decision an allow committed with
// synchronous=FULL before it is answered. Run it with a fixed count:
//
//	go test -run '^$' -bench LoadHTTP -benchtime 200000x ./verify/server
func BenchmarkLoadHTTP(b *testing.B) {
	bf := newBenchFixture(b, false)
	bf.load(b, "-http", bf.live.url, "-key", bf.appKey)
}

// BenchmarkLoadRADIUS is the same over RADIUS: 64 clients, each its own
// UDP socket, Access-Requests with a Message-Authenticator, answers
// checked for their authenticators by loadgen.
//
//	go test -run '^$' -bench LoadRADIUS -benchtime 200000x ./verify/server
func BenchmarkLoadRADIUS(b *testing.B) {
	bf := newBenchFixture(b, true)
	secret := filepath.Join(b.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(radiusSecret), 0o600); err != nil {
		b.Fatal(err)
	}
	bf.load(b, "-radius", bf.live.radius.String(), "-secret-file", secret)
}

// BenchmarkRADIUSPacket is the server's work on one Access-Request short
// of the decision: checks, Message-Authenticator, User-Password, answer.
func BenchmarkRADIUSPacket(b *testing.B) {
	fx := newFixture(b, Config{UserRate: -1})
	fx.srv.deps.Decider = allowAll{fx.ver}
	rs := fx.radius(b)
	packets := make([][]byte, 256)
	for i := range packets {
		packets[i] = accessRequest{id: byte(i), user: "alice", password: "123456"}.encode(b)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A new source port each time: a new request, not a
		// retransmission answered from the cache.
		port := uint16(i)
		if port == 0 {
			fx.clock.Advance(time.Minute)
		}
		from := netip.AddrPortFrom(loopback.Addr(), port)
		if _, why := rs.handle(context.Background(), packets[i%len(packets)], from); why != "" {
			b.Fatal(why)
		}
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type allowAll struct{ Decider }

func (allowAll) VerifyUser(context.Context, string, string, verify.Origin) (verify.Decision, error) {
	return verify.Decision{Allow: true, Method: "fob", Serial: "X"}, nil
}

// BenchmarkAuthHandler is POST /v1/auth through the handler without a
// network and without the verifier: what the HTTP layer costs.
func BenchmarkAuthHandler(b *testing.B) {
	fx := newFixture(b, Config{UserRate: -1, ClientRate: -1})
	fx.srv.deps.Decider = allowAll{fx.ver}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if status, m := fx.auth(b, "alice", "123456"); status != 200 {
			b.Fatal(status, m)
		}
	}
}

// BenchmarkVerifyUser10k is the ceiling under the server: the verifier
// alone, in this process, 64 goroutines deciding right codes of the
// 10,000 users through the inventory's group commit (synchronous=FULL).
//
//	go test -run '^$' -bench VerifyUser10k -benchtime 100000x ./verify/server
func BenchmarkVerifyUser10k(b *testing.B) {
	now := time.Now().Round(0)
	clk := loadtest.Clock{Origin: now, Base: now, Speed: benchSpeed}
	st, err := inventory.Open(context.Background(), filepath.Join(b.TempDir(), "keydesk.db"),
		bytes.Repeat([]byte{7}, inventory.MasterKeySize), inventory.Options{Create: true, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := loadtest.Build(context.Background(), st, benchUsers); err != nil {
		b.Fatal(err)
	}
	ver := verify.New(st, verify.DefaultPolicy)
	sched := &loadtest.Schedule{Users: benchUsers, Clock: clk, Total: int64(b.N)}
	var wg sync.WaitGroup
	var denied, late atomic.Int64
	var mu sync.Mutex
	reasons := map[string]int{}
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				user, code, step, ok := sched.Take()
				if !ok {
					return
				}
				d, err := ver.VerifyUser(context.Background(), user, code, verify.Origin{Transport: "test"})
				if err == nil && !d.Allow && sched.Step() > step {
					late.Add(1) // outlived its code: see loadgen's Result.Late
				} else if err != nil || !d.Allow {
					denied.Add(1)
					mu.Lock()
					reasons[d.ReasonCode()]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	b.ReportMetric(float64(late.Load()), "late")
	if n := denied.Load(); n > 0 {
		b.Errorf("%d of %d denied: %v", n, b.N, reasons)
	}
}

// BenchmarkDenialTime compares how long a denial takes for a user who
// exists and one who does not, asked of one server in turn: an
// application must not be able to tell them apart by the clock.
func BenchmarkDenialTime(b *testing.B) {
	fx := newFixture(b, Config{UserRate: -1, ClientRate: -1})
	fx.addUser(b, "known")
	p := verify.DefaultPolicy
	p.LockoutAfter = 1 << 30
	fx.srv.deps.Decider = verify.New(fx.store, p)
	var took [2]time.Duration
	n := 0
	for b.Loop() {
		for i, who := range []string{"known", "unknown"} {
			start := time.Now()
			fx.auth(b, who, "000000")
			took[i] += time.Since(start)
		}
		n++
	}
	b.ReportMetric(float64(took[0].Microseconds())/float64(n), "known-µs/op")
	b.ReportMetric(float64(took[1].Microseconds())/float64(n), "unknown-µs/op")
}

// BenchmarkLoadRADIUSPasswordOTP is BenchmarkLoadRADIUS in password+otp
// mode: every Access-Request carries the user's directory password and
// code, and the password is checked by a bind to a real slapd holding the
// 10,000 users before the code is. The directory's share of each request
// is reported from the server's own histogram.
//
//	go test -run '^$' -bench LoadRADIUSPasswordOTP -benchtime 50000x ./server
func BenchmarkLoadRADIUSPasswordOTP(b *testing.B) {
	var ldif strings.Builder
	ldif.WriteString("dn: " + slapd.Suffix + "\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n")
	ldif.WriteString("dn: ou=people," + slapd.Suffix + "\nobjectClass: organizationalUnit\nou: people\n\n")
	ldif.WriteString("dn: ou=services," + slapd.Suffix + "\nobjectClass: organizationalUnit\nou: services\n\n")
	ldif.WriteString("dn: cn=keydesk,ou=services," + slapd.Suffix + "\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: keydesk\nuserPassword: service-secret\n\n")
	for i := range benchUsers {
		u := loadtest.UserName(i)
		fmt.Fprintf(&ldif, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: pw-%s\n\n", u, slapd.Suffix, u, u, u, u)
	}
	began := time.Now()
	ldap := slapd.Start(b, slapd.Options{LDIF: ldif.String()})
	b.Logf("slapd with %d users in %v", benchUsers, time.Since(began).Round(time.Millisecond))
	pw := filepath.Join(b.TempDir(), "bind.pw")
	os.WriteFile(pw, []byte("service-secret"), 0o600)
	dc := directory.Config{Kind: directory.OpenLDAP, URL: ldap.URL, BindDN: "cn=keydesk,ou=services," + slapd.Suffix,
		BindPasswordFile: pw, BaseDN: slapd.Suffix, MaxConnections: 64}
	dc.Default()
	dir, err := directory.New(dc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dir.Close() })
	bf := newBenchFixtureWith(b, true, Config{Directory: &dc}, inventory.ModePasswordOTP, dir)
	secret := filepath.Join(b.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(radiusSecret), 0o600); err != nil {
		b.Fatal(err)
	}
	bf.load(b, "-radius", bf.live.radius.String(), "-secret-file", secret, "-password-prefix", "pw-")
	// The directory's share: its mean time per password against the mean
	// time per request, from the server's histograms.
	var sum, count float64
	mfs, _ := bf.srv.m.reg.Gather()
	for _, mf := range mfs {
		switch mf.GetName() {
		case "keydesk_directory_duration_seconds":
			for _, m := range mf.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
				count += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if count > 0 {
		b.ReportMetric(sum/count*1000, "ldap-mean-ms")
	}
}

// BenchmarkLoadNodes is BenchmarkLoadHTTP on SQLite and on PostgreSQL with
// one, two and three servers in front of one database, loadgen's 64
// clients spread over them. The servers share this process and
// PostgreSQL runs on the same two cores, so the figures say what sharing
// costs, not what more machines would give:
//
//	go test -run '^$' -bench LoadNodes -benchtime 100000x ./server
func BenchmarkLoadNodes(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		bf := newBenchFixture(b, false)
		bf.load(b, "-http", bf.urls(), "-key", bf.appKey)
	})
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("postgresql-%d", n), func(b *testing.B) {
			c := pgtest.Shared(b)
			bf := newBenchFixtureAt(b, c.NewDatabase(b), false, Config{}, "", nil)
			bf.pg = c
			bf.addNodes(b, n-1)
			bf.load(b, "-http", bf.urls(), "-key", bf.appKey)
		})
	}
}
