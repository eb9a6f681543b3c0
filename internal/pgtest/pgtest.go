// Package pgtest starts a real PostgreSQL for tests: a throw-away cluster
// made by initdb in a temporary folder (in memory, under /dev/shm, when
// that has room), listening on 127.0.0.1 and a port of its own, with its
// unix socket in that folder. It reads nothing of a
// system cluster (Debian's "main" on port 5432 may run beside it) and is
// removed when the tests end.
//
// A test binary shares one cluster ([Shared], with [Main] in TestMain),
// and each test makes its own empty database in it ([Cluster.NewDatabase]).
// A test that stops, kills or restarts the server starts a cluster of its
// own ([Start]).
//
// Tests connect as [User], an ordinary role that owns its databases, as
// keydesk connects in production; the helper itself acts as the
// superuser over the unix socket.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestFobs(t *testing.T) {
//		url := pgtest.Shared(t).NewDatabase(t) // postgres://keydesk:...@127.0.0.1:PORT/NAME
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the role the URLs of [Cluster.NewDatabase] log in as. It is not
// a superuser: what keydesk does must work without one.
const User = "keydesk"

const (
	superuser  = "postgres"
	installMsg = "postgresql not installed: apt-get install postgresql"
)

// Cluster is a running PostgreSQL server of the tests.
type Cluster struct {
	Port      int    // TCP port on 127.0.0.1
	SocketDir string // folder of the unix socket, for the superuser
	Version   string // server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)"

	password string // User's, drawn per cluster: scram on TCP
	shared   bool
	srv      *server
	dbs      atomic.Int64
}

// Start starts a cluster for this test alone, and stops it and removes its
// files when the test ends. It skips the test when PostgreSQL is not
// installed. Use it for tests that call [Cluster.Stop], [Cluster.Kill] or
// [Cluster.Restart]; other tests share the faster [Shared].
func Start(t testing.TB) *Cluster {
	t.Helper()
	c, err := start(false)
	if errors.Is(err, errNotInstalled) {
		t.Skip(installMsg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log:\n%s", c.srv.logTail())
		}
		if err := c.srv.remove(); err != nil {
			t.Error(err)
		}
	})
	return c
}

var (
	mainRunning atomic.Bool
	sharedUsed  atomic.Bool // Shared was called: there is a cluster to remove
	shared      = sync.OnceValues(func() (*Cluster, error) { return start(true) })
)

// Shared returns the test binary's cluster, starting it on first use. The
// binary's TestMain must call [Main], which stops it after the tests.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("pgtest.Shared needs TestMain to call pgtest.Main(m), which removes the cluster after the tests")
	}
	sharedUsed.Store(true)
	c, err := shared()
	if errors.Is(err, errNotInstalled) {
		t.Skip(installMsg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Main runs the tests and then stops and removes the cluster [Shared]
// started, if any; it exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is [Main] without the exit, for a TestMain that wraps m in other
// set-up: it returns the tests' status.
func Run(m interface{ Run() int }) int {
	mainRunning.Store(true)
	code := m.Run()
	mainRunning.Store(false)
	if !sharedUsed.Load() {
		return code
	}
	if c, err := shared(); err == nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "pgtest: postgres log:\n%s\n", c.srv.logTail())
		}
		if err := c.srv.remove(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

func start(isShared bool) (*Cluster, error) {
	srv, err := newServer()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Port: srv.port, SocketDir: srv.sockDir, password: randomHex(16), shared: isShared, srv: srv}
	err = c.admin(context.Background(), superuser, func(ctx context.Context, conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&c.Version); err != nil {
			return err
		}
		// CREATEDB lets a test make a database of its own as keydesk
		// would need to; the role stays short of a superuser.
		_, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s'", User, c.password))
		return err
	})
	if err != nil {
		srv.remove()
		return nil, fmt.Errorf("pgtest: preparing the cluster: %w\n%s", err, srv.logTail())
	}
	return c, nil
}

// admin runs fn on a superuser connection to database db over the unix
// socket. Each call has its own connection: calls come from parallel
// tests, and one that outlives a restart would be broken.
func (c *Cluster) admin(ctx context.Context, db string, fn func(context.Context, *pgx.Conn) error) error {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database = c.SocketDir, uint16(c.Port), superuser, db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(ctx, conn)
}

// NewDatabase makes an empty database owned by [User], dropped when the
// test ends, and returns its URL:
// postgres://keydesk:PASSWORD@127.0.0.1:PORT/NAME?sslmode=disable.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := databaseName(t.Name(), c.dbs.Add(1))
	err := c.admin(t.Context(), superuser, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+User)
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if !c.srv.running() {
			return // the cluster goes with its files
		}
		// FORCE ends the sessions a test left open (PostgreSQL 13+).
		err := c.admin(context.Background(), superuser, func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		})
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.URL(name)
}

// URL is the address of database name for [User] over TCP.
func (c *Cluster) URL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(User, c.password),
		Host:     fmt.Sprintf("127.0.0.1:%d", c.Port),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

var notName = regexp.MustCompile(`[^a-z0-9]+`)

// databaseName names a database after its test, so that the server's log
// says whose it is, within the 63 bytes PostgreSQL keeps of a name.
func databaseName(test string, n int64) string {
	base := strings.Trim(notName.ReplaceAllString(strings.ToLower(test), "_"), "_")
	if len(base) > 48 {
		base = base[:48]
	}
	return fmt.Sprintf("t%d_%s", n, base)
}

// Exec runs a statement as the superuser in the database of dbURL, for
// what a test must arrange that keydesk's role may not do (making the
// database read-only, say).
func (c *Cluster) Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	err := c.admin(t.Context(), dbName(t, dbURL), func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// TerminateConnections ends every session on the database of dbURL, as
// pg_terminate_backend does when an administrator cuts them, and returns
// how many it ended. It returns once they are gone. The cluster and other
// databases stay up.
func (c *Cluster) TerminateConnections(t testing.TB, dbURL string) int {
	t.Helper()
	var n int
	err := c.admin(t.Context(), superuser, func(ctx context.Context, conn *pgx.Conn) error {
		// The timeout (PostgreSQL 14+) makes it wait until each backend
		// has exited, so the test sees the cut, not a race with it.
		return conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
			FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName(t, dbURL)).Scan(&n)
	})
	if err != nil {
		t.Fatalf("pgtest: terminate connections: %v", err)
	}
	return n
}

func dbName(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme != "postgres" || len(u.Path) < 2 {
		t.Fatalf("pgtest: %q is not a database URL of NewDatabase", dbURL)
	}
	return u.Path[1:]
}

// Stop stops the server as an administrator would (fast shutdown: open
// sessions are ended with SQLSTATE 57P01) and returns once it has exited.
// Its files stay for [Cluster.Restart].
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.mustOwn(t, "Stop")
	if err := c.srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// Kill kills the server and all its backends at once with SIGKILL, as a
// crash of the database machine would look to keydesk: connections drop
// with no message. What was committed survives; [Cluster.Restart] runs
// crash recovery.
func (c *Cluster) Kill(t testing.TB) {
	t.Helper()
	c.mustOwn(t, "Kill")
	if err := c.srv.kill(); err != nil {
		t.Fatal(err)
	}
}

// Restart stops the server if it runs and starts it again on the same
// port, so that URLs handed out before still work; it returns once the
// server accepts connections.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.mustOwn(t, "Restart")
	if err := c.srv.restart(); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) mustOwn(t testing.TB, what string) {
	t.Helper()
	if c.shared {
		t.Fatalf("pgtest: %s on the shared cluster would cut every test's databases; use pgtest.Start for a cluster of this test's own", what)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CPU is the CPU time the cluster's processes alive now have used, for a
// benchmark to say where the time went. Backends that ended are not
// counted: measure over connections a pool keeps open.
func (c *Cluster) CPU() time.Duration { return c.srv.cpu() }
