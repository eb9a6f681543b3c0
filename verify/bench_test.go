package verify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

const benchFobs = 100_000

// bench is the 100,000-fob inventory the benchmark verifies against. It
// is built once per test process and kept across the benchmark's runs,
// since every run moves the fobs' counters on; TestMain removes it.
var bench struct {
	once sync.Once
	err  error
	dir  string
	s    *inventory.Store
	v    *verify.Verifier
	toks []fob.Token
	next atomic.Uint64 // verifications handed out so far
	pass atomic.Int64  // how many times each fob has been used: the clock's step
}

// benchStart is step-aligned so that pass p of the TOTP fobs is the step
// p after it.
var benchStart = time.Unix(start.Unix()/30*30, 0)

func benchNow() time.Time { return benchStart.Add(time.Duration(bench.pass.Load()) * 30 * time.Second) }

// benchInventory stores 100,000 fobs in one update: even ones HOTP, odd
// ones TOTP, SHA-1, 6 digits, as most vendors ship them.
func benchInventory(b *testing.B) {
	bench.once.Do(func() {
		ctx := context.Background()
		if bench.dir, bench.err = os.MkdirTemp("", "keydesk-bench-"); bench.err != nil {
			return
		}
		bench.s, bench.err = inventory.Open(ctx, filepath.Join(bench.dir, "keydesk.db"), masterKey(),
			inventory.Options{Create: true, Now: benchNow, Sync: os.Getenv("KEYDESK_BENCH_SYNC")})
		if bench.err != nil {
			return
		}
		bench.toks = make([]fob.Token, benchFobs)
		for i := range bench.toks {
			serial := fmt.Sprintf("B%06d", i)
			t := hotp(serial)
			if i%2 == 1 {
				t = totp(serial)
			}
			bench.toks[i] = t
		}
		began := time.Now()
		bench.err = bench.s.Update(ctx, func(tx *inventory.Tx) error {
			for _, t := range bench.toks {
				if err := tx.AddFob(t, 0, 0); err != nil {
					return err
				}
			}
			return nil
		})
		b.Logf("stored %d fobs in %v", benchFobs, time.Since(began).Round(time.Millisecond))
		bench.v = verify.New(bench.s, verify.DefaultPolicy)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
}

func benchCleanup() {
	if bench.s != nil {
		bench.s.Close()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
}

// BenchmarkVerifySerial100k verifies right codes against an inventory of
// 100,000 fobs through Verifier.VerifySerial, each decision committed
// (synchronous=FULL) before it returns. Verifications go round the fobs,
// so each one reads and writes a different row; the TOTP clock moves a
// step each time round. clients is the number of verifications in flight
// per GOMAXPROCS, as a server with that many waiting requests would have.
// KEYDESK_BENCH_SYNC=NORMAL (or OFF) measures the same with a weaker
// synchronous setting, to tell fsync's share from the rest.
//
//	go test -run x -bench VerifySerial100k -cpu 1 ./verify
func BenchmarkVerifySerial100k(b *testing.B) {
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			benchInventory(b)
			ctx := context.Background()
			var denied atomic.Int64
			var firstDenial atomic.Value
			b.SetParallelism(clients)
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := bench.next.Add(1) - 1
					k, p := i%benchFobs, int64(i/benchFobs)
					if p > bench.pass.Load() {
						bench.pass.Store(p) // a little early for the fobs still on pass p-1: within one step
					}
					t := &bench.toks[k]
					factor := uint64(p)
					if t.Kind == fob.TOTP {
						factor += uint64(benchStart.Unix() / 30)
					}
					d, err := bench.v.VerifySerial(ctx, t.Serial, t.Code(factor), verify.Origin{Transport: "test"})
					if err != nil || !d.Allow {
						denied.Add(1)
						firstDenial.CompareAndSwap(nil, fmt.Sprintf("%s: %v %v", t.Serial, err, d.Denial))
					}
				}
			})
			b.StopTimer()
			cpu := cpuTime() - cpu0
			if n := denied.Load(); n > 0 {
				b.Fatalf("%d of %d right codes not allowed; first: %v", n, b.N, firstDenial.Load())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
			// CPU time (user and system, all threads, SQLite's included)
			// says what a verification costs even on a busy machine, where
			// wall time also counts other processes.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
