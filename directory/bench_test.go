package directory

import (
	"context"
	"runtime"
	"testing"

	"github.com/keydesk/keydesk/internal/slapd"
)

// The bind path of a login against the real slapd on loopback: the
// service search and the user's bind, over kept connections.
//
//	go test -run '^$' -bench Authenticate ./directory/
func BenchmarkAuthenticate(b *testing.B) {
	_, cfg := startDirectory(b, slapd.Options{})
	c := newClient(b, cfg)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// 64 logins at once, with the default pools (8 connections each) and
// with a connection for each.
func BenchmarkAuthenticateParallel64(b *testing.B) {
	for _, size := range []int{8, 64} {
		b.Run(map[int]string{8: "pool=8", 64: "pool=64"}[size], func(b *testing.B) {
			_, cfg := startDirectory(b, slapd.Options{})
			cfg.MaxConnections = size
			c := newClient(b, cfg)
			ctx := context.Background()
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
