package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkStart is what a test of its own cluster pays ([Start]), and a
// test binary once ([Shared]): initdb, postgres until it accepts
// connections, the test role; and removing it all.
func BenchmarkStart(b *testing.B) {
	var initdb, ready time.Duration
	for b.Loop() {
		t0 := time.Now()
		c, err := start(false)
		if err != nil {
			b.Fatal(err)
		}
		initdb += c.srv.initdbTook
		ready += time.Since(t0) - c.srv.initdbTook
		if err := c.srv.remove(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(initdb.Milliseconds())/float64(b.N), "ms-initdb/op")
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ms-start/op")
}

// BenchmarkNewDatabase is what each test pays for its database: CREATE
// DATABASE and, at its end, DROP DATABASE, with either way PostgreSQL 15
// has of copying template1.
func BenchmarkNewDatabase(b *testing.B) {
	c, err := start(false)
	if err != nil {
		b.Fatal(err)
	}
	defer c.srv.remove()
	for _, strategy := range []string{"WAL_LOG", "FILE_COPY"} {
		b.Run(strategy, func(b *testing.B) {
			var n int
			err := c.admin(context.Background(), superuser, func(ctx context.Context, conn *pgx.Conn) error {
				for b.Loop() {
					n++
					name := fmt.Sprintf("bench_%d", n)
					if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+User+" STRATEGY "+strategy); err != nil {
						return err
					}
					if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
