// Command loadgen drives a keydesk server with passcodes that should be
// allowed, from a separate process, over HTTP (POST /v1/auth) or RADIUS,
// and reports throughput and latency.
//
// The server's inventory holds users load00000... each with one TOTP fob
// whose seed loadgen derives from the name (package loadtest). A TOTP code
// is good once per 30 s step, so each user is asked once per step, users
// in turn; when every user has been asked in a step, loadgen waits for the
// next. With the server's clock running -speed times as fast (from the
// same -origin and -base), a step lasts 30 s / speed of wall time, which
// is what lets 10,000 users make more than 10,000 allow decisions a
// second. Every answer is counted: allows, denials by reason, and apart
// from them the denials of requests answered after their code's step had
// ended (late: the code had expired by the server's clock).
//
//	loadgen -http http://127.0.0.1:8700 -key kd_app_... -users 10000 -n 200000
//	loadgen -radius 127.0.0.1:1812 -secret-file F -users 10000 -n 200000
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keydesk/keydesk/internal/loadtest"
)

// Result is what loadgen prints, one JSON object.
type Result struct {
	Transport string `json:"transport"`
	Requests  int64  `json:"requests"`
	Allowed   int64  `json:"allowed"`
	Denied    int64  `json:"denied"`
	Errors    int64  `json:"errors"`
	// Late counts denials of requests answered after their code's time
	// step had ended: a stall (of the machine, most often) held them past
	// the code's life, and the denial is the right answer then.
	Late        int64          `json:"late"`
	DenyReasons map[string]int `json:"deny_reasons,omitempty"`
	FirstError  string         `json:"first_error,omitempty"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"per_second"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	Maxms       float64        `json:"max_ms"`
	Waits       int64          `json:"step_waits"` // times every user had been asked in a step
}

// outcome is one request's answer.
type outcome struct {
	allow  bool
	reason string
	err    error
}

// sender sends one passcode; each worker has its own.
type sender interface {
	send(user, code string) outcome
}

func main() {
	httpURL := flag.String("http", "", "base URL of the HTTP API; several, comma-separated, are the nodes of one inventory, each client on one of them in turn")
	key := flag.String("key", "", "application key for /v1/auth")
	radiusAddr := flag.String("radius", "", "RADIUS server address (UDP)")
	secretFile := flag.String("secret-file", "", "file with the RADIUS shared secret")
	passwordPrefix := flag.String("password-prefix", "", "send password+otp User-Passwords: PREFIX+user, a comma, the code")
	users := flag.Int("users", 10000, "users in the inventory")
	n := flag.Int64("n", 100000, "requests to send")
	conc := flag.Int("c", 64, "concurrent clients")
	speed := flag.Float64("speed", 1, "how much faster than the wall clock the server's clock runs")
	origin := flag.Int64("origin", 0, "wall time (Unix ns) at which the server's clock read -base")
	base := flag.Int64("base", 0, "the server's time (Unix ns) at -origin")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of loadgen to `FILE`")
	clientKind := flag.String("client", "raw", "HTTP client: raw (a lean HTTP/1.1 client, leaving the CPU to the server) or std (net/http)")
	flag.Parse()

	clock := loadtest.Clock{Speed: *speed}
	if *origin != 0 {
		clock.Origin, clock.Base = time.Unix(0, *origin), time.Unix(0, *base)
	}
	var newSender func() (sender, error)
	transport := "http"
	switch {
	case *httpURL != "" && *radiusAddr == "" && *clientKind == "std":
		client := newHTTPClient(*conc)
		nodes, next := strings.Split(*httpURL, ","), 0
		newSender = func() (sender, error) {
			next++
			return &httpSender{client: client, url: nodes[(next-1)%len(nodes)] + "/v1/auth", key: *key}, nil
		}
	case *httpURL != "" && *radiusAddr == "":
		nodes, next := strings.Split(*httpURL, ","), 0
		newSender = func() (sender, error) {
			next++
			return newRawHTTPSender(nodes[(next-1)%len(nodes)], *key)
		}
	case *radiusAddr != "" && *httpURL == "":
		transport = "radius"
		secret, err := os.ReadFile(*secretFile)
		if err != nil {
			fail(err)
		}
		secret = []byte(strings.TrimRight(string(secret), "\r\n"))
		newSender = func() (sender, error) { return newRADIUSSender(*radiusAddr, secret, *passwordPrefix) }
	default:
		fail(fmt.Errorf("give one of -http or -radius"))
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	res, err := run(newSender, &loadtest.Schedule{Users: *users, Clock: clock, Total: *n}, *conc)
	if err != nil {
		fail(err)
	}
	res.Transport = transport
	json.NewEncoder(os.Stdout).Encode(res)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

func run(newSender func() (sender, error), sched *loadtest.Schedule, conc int) (Result, error) {
	var res Result
	var allowed, denied, late, errs atomic.Int64
	var mu sync.Mutex
	reasons := map[string]int{}
	lat := make([][]time.Duration, conc)
	var firstErr atomic.Value
	senders := make([]sender, conc)
	for i := range senders {
		var err error
		if senders[i], err = newSender(); err != nil {
			return res, err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				user, code, step, ok := sched.Take()
				if !ok {
					return
				}
				t0 := time.Now()
				o := senders[w].send(user, code)
				lat[w] = append(lat[w], time.Since(t0))
				switch {
				case o.err != nil:
					errs.Add(1)
					firstErr.CompareAndSwap(nil, o.err.Error())
				case o.allow:
					allowed.Add(1)
				case sched.Step() > step:
					late.Add(1)
				default:
					denied.Add(1)
					mu.Lock()
					reasons[o.reason]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	ms := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	res = Result{
		Requests: int64(len(all)), Allowed: allowed.Load(), Denied: denied.Load(), Late: late.Load(), Errors: errs.Load(),
		Seconds: elapsed.Seconds(), PerSecond: float64(len(all)) / elapsed.Seconds(),
		P50ms: ms(0.50), P90ms: ms(0.90), P99ms: ms(0.99), Maxms: ms(1), Waits: sched.Waits(),
	}
	if len(reasons) > 0 {
		res.DenyReasons = reasons
	}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	return res, nil
}
