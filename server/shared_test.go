package server

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/pgtest"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// Two servers in this process on one PostgreSQL database, each with its
// own store (pool, caches), as two nodes are; on one fake clock.

// newPGFixture is a fixture whose inventory is a new database of cluster c.
func newPGFixture(t *testing.T, c *pgtest.Cluster) *fixture {
	t.Helper()
	return newFixtureAt(t, Config{}, c.NewDatabase(t))
}

// node is another server on fx's inventory, with its own store.
func (fx *fixture) node(t *testing.T) *fixture {
	t.Helper()
	st, err := inventory.Open(context.Background(), fx.path, bytes.Repeat([]byte{7}, inventory.MasterKeySize),
		inventory.Options{Now: fx.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ver := verify.New(st, verify.DefaultPolicy)
	srv, err := New(Config{Now: fx.clock.Now, Log: quietLog(t)}, NewDeps(st, ver))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clock: fx.clock, store: st, path: fx.path, ver: ver, desk: srv.deps.Desk.As("test"), srv: srv, appKey: fx.appKey, tokens: fx.tokens}
}

// An application removed on one node is refused there at once, and on
// the other within CacheTTL; the same for an administrator disabled.
func TestNodesCachesFollowChanges(t *testing.T) {
	a := newPGFixture(t, pgtest.Shared(t))
	a.addUser(t, "alice")
	b := a.node(t)
	for _, fx := range []*fixture{a, b} {
		if status, m := fx.auth(t, "alice", fx.code("alice")); status != http.StatusOK {
			t.Fatalf("before: %d %v", status, m)
		}
	}
	if status, m := a.do(t, "DELETE", "/v1/admin/applications/vpn", a.tokens[verify.Owner], nil); status != http.StatusOK {
		t.Fatalf("removing the application: %d %v", status, m)
	}
	if status, _ := a.auth(t, "alice", a.code("alice")); status != http.StatusUnauthorized {
		t.Errorf("the node that removed the application: %d, want 401", status)
	}
	a.clock.Advance(time.Duration(b.srv.Config().CacheTTL) + time.Second)
	if status, _ := b.auth(t, "alice", b.code("alice")); status != http.StatusUnauthorized {
		t.Errorf("the other node, past cache_ttl: %d, want 401", status)
	}
}

// The database going away mid-service: decisions fail closed (503, never
// an allow), /healthz says so, and the same server serves again once the
// database is back.
func TestDatabaseOutage(t *testing.T) {
	c := pgtest.Start(t)
	fx := newPGFixture(t, c)
	fx.addUser(t, "alice")
	if status, m := fx.do(t, "GET", "/healthz", "", nil); status != 200 || m["store"] != "postgresql" {
		t.Fatalf("healthz: %d %v", status, m)
	}
	c.Kill(t)
	status, m := fx.auth(t, "alice", fx.code("alice"))
	if status != http.StatusServiceUnavailable || m["result"] == "allow" {
		t.Errorf("a right code with the database down: %d %v, want 503", status, m)
	}
	if status, _ := fx.do(t, "GET", "/healthz", "", nil); status != http.StatusServiceUnavailable {
		t.Errorf("healthz with the database down: %d", status)
	}
	c.Restart(t)
	var allowed bool
	for range 4 { // a pooled connection that died is found out once
		if status, m := fx.auth(t, "alice", fx.code("alice")); status == 200 && m["result"] == "allow" {
			allowed = true
			break
		}
	}
	if !allowed {
		t.Error("no allow after the database came back")
	}
	if status, _ := fx.do(t, "GET", "/healthz", "", nil); status != 200 {
		t.Errorf("healthz after: %d", status)
	}
}
